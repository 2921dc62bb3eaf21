"""Which way to translate: English → Chinese or Chinese → English, from the script of each line.

A line with at least two Han characters for each Latin word is Chinese (a Chinese word is about
two characters long; a Chinese sentence may name an "iPhone", an English one may quote 饺子);
a line with neither (digits, punctuation, blank) has
no direction of its own. A run's direction comes from its vocabularies: Chinese target → en-zh,
Chinese source → zh-en; any other pair of languages is "other" and translates every line.

Traditional characters: the shipped models learnt simplified Chinese (Tatoeba's Mandarin is
written in it), so a traditional character the model does not know is read as its simplified
form (OpenCC's t2s table) and the translation says so; characters the model knows are never
changed.
"""

from __future__ import annotations

from engine.text.script import HAN, script_of

EN_ZH, ZH_EN, OTHER = "en-zh", "zh-en", "other"
DIRECTIONS = (EN_ZH, ZH_EN)
ARROWS = {EN_ZH: "en→zh", ZH_EN: "zh→en", OTHER: "→"}


def direction_of_script(script: str | None) -> str | None:
    return {"zh": ZH_EN, "en": EN_ZH}.get(script)


def run_direction(src_vocab, tgt_vocab) -> str:
    """en-zh, zh-en or other, from which side of a run is Chinese."""
    if tgt_vocab.chinese and not src_vocab.chinese:
        return EN_ZH
    if src_vocab.chinese and not tgt_vocab.chinese:
        return ZH_EN
    return OTHER


def expects(direction: str) -> str | None:
    """The script a direction's input is written in (None: any)."""
    return {EN_ZH: "en", ZH_EN: "zh"}.get(direction)


def mismatch(text: str, direction: str) -> str | None:
    """A warning when `text` is in the other script than `direction` reads, else None."""
    wanted, found = expects(direction), script_of(text)
    if wanted is None or found is None or found == wanted:
        return None
    language = {"zh": "Chinese", "en": "English"}
    return f"this line looks {language[found]}, but the model ({ARROWS[direction]}) reads {language[wanted]}"


_converter = None


def traditional_to_simplified():
    global _converter
    if _converter is None:
        from opencc import OpenCC  # pure Python, loads its tables once (about 0.1 s)

        _converter = OpenCC("t2s")
    return _converter


def simplify_unknown(text: str, known) -> tuple[str, list[tuple[str, str]]]:
    """`text` with each Han character that is not in `known` (a vocabulary's token index) but
    whose simplified form is, replaced by that form. Returns (text, [(traditional, simplified)])."""
    if not HAN.search(text) or all(c in known for c in HAN.findall(text)):
        return text, []
    simplified = traditional_to_simplified().convert(text)
    if len(simplified) != len(text):  # t2s is character for character on the text we read
        return text, []
    out, changed = [], []
    for old, new in zip(text, simplified):
        if old != new and old not in known and new in known:
            out.append(new)
            if (old, new) not in changed:
                changed.append((old, new))
        else:
            out.append(old)
    return "".join(out), changed
