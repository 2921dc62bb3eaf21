"""Spans that must come through a translation unchanged (or as a glossary says).

Digits with their separators (1,000 / 3.5 / 7:45 / 555-1234), URLs, e-mail addresses, glossary
terms, and words the model cannot know (Latin-script words inside Chinese; names an English
model never saw) are replaced by placeholder tokens before the model reads the sentence:

    "Jennifer was born in 1987."  →  "⟦W1⟧ was born in ⟦N1⟧."  →  model  →  "⟦W1⟧出生于⟦N1⟧年。"
                                                                      →  "Jennifer出生于1987年。"

The models learn to copy placeholders from training pairs where the same span stands on both
sides (`protect_pair`, engine/text/shared_spans.py): numbers and Latin words that the Chinese side kept as they are, and,
for a share of the pairs, a name with one fixed translation (Tom 汤姆), so that a placeholder
learns to behave like a name wherever names go. N placeholders are numbers, W ones everything
else. `restore` puts the spans back; one the model dropped is placed by its attention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.text.script import HAN, HAN_CHAR

CURRENCIES = "€£¥₩₹"  # (not $, which the models learnt: $3.50 → 3.50美元)
MAX_PER_KIND = 6  # ⟦N1⟧…⟦N6⟧ and ⟦W1⟧…⟦W6⟧; further spans stay in the text as they are
KINDS = ("N", "W")
PLACEHOLDERS = [f"⟦{kind}{n}⟧" for kind in KINDS for n in range(1, MAX_PER_KIND + 1)]
PLACEHOLDER = re.compile(r"⟦([NW])(\d)⟧")
_LETTER = r"A-Za-z\u00c0-\u024f"
URL = rf"(?:https?://|www\.)[^\s<>\"'，。！？{HAN_CHAR}]+[^\s<>\"'，。！？.,;:!?){HAN_CHAR}]"  # (not into the Chinese after it)
# (the lookbehind starts an address only where its run of characters starts: without it, a run
# like a.a.a.… with no @ is tried from each of its positions, quadratic in its length)
EMAIL = r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
NUMBER = rf"(?<![{_LETTER}0-9_.])[-+]?\d+(?:[.,:/-]\d+)*"
WORD = rf"[{_LETTER}][{_LETTER}0-9]*(?:['\-][{_LETTER}0-9]+)*"
# A program's format placeholder: printf's (%s, %.2f, %1$s, %(count)d) and braces ({name}, {0}, {total:.2f}); a
# conversion letter must not run on into a word (50% off). No two parts can take the same characters (a width
# cannot start with 0, a flag; a field stops at ':' and '!'), so a run of zeros or colons is read in one pass.
FORMAT = r"%(?:\d+\$)?(?:\([A-Za-z_]\w*\))?[-+#0]*(?:[1-9]\d*|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t|L)?[sdifFeEgGxXoucr](?![A-Za-z])|\{\w*(?:[.\[][^{}\s:!]*)?(?:![rsa])?(?::[^{}\s]*)?\}"
# Text that looks like a placeholder (or a lone bracket of one) is kept as it is, as a span; so is a
# private-use character (what stands for an inline HTML element, engine/text/htmldoc.py) and a
# format placeholder (gettext catalogues, engine/text/catalogues.py).
MARK = rf"⟦[^⟦⟧\s]{{0,16}}⟧|[⟦⟧]|[\ue001-\uf8ff]|{FORMAT}"
# An emoji (with its variation selectors and joined parts): no model here has seen one, so it is kept.
EMOJI = r"[\U0001F000-\U0001FAFF\u2600-\u27BF](?:[\uFE0F\u200D\U0001F3FB-\U0001F3FF]+[\U0001F000-\U0001FAFF\u2600-\u27BF]?)*"
TOKEN = re.compile(rf"(?P<mark>{MARK}|{EMOJI})|(?P<url>{URL})|(?P<email>{EMAIL})|(?P<number>{NUMBER})|(?P<word>{WORD})")
LINK = re.compile(f"{URL}|{EMAIL}")
WORD_CHAR = re.compile(rf"[{_LETTER}0-9]")
_LETTERS_OR_HAN = re.compile(rf"[{_LETTER}{HAN_CHAR}]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # "N" (a number) or "W" (anything else kept or replaced)
    output: str  # what the translation shows in its place (the text itself, or a glossary term's translation)


@dataclass
class Protected:
    """A sentence as the model reads it, and what each placeholder stands for."""

    text: str
    spans: dict[str, str]  # placeholder → output text, in source order

    @property
    def only_spans(self) -> bool:
        """Nothing left to translate: only placeholders, digits and punctuation (a line that is a
        number, a URL or a name comes back as it is)."""
        return not _LETTERS_OR_HAN.search(PLACEHOLDER.sub("", self.text))


def is_name_like(word: str) -> bool:
    """A capitalised word, or one with a capital or digit inside (iPhone, MP3, DJ)."""
    return word[:1].isupper() or any(c.isupper() or c.isdigit() for c in word[1:])


def find_spans(text: str, known=None, chinese_source: bool = False, glossary=None, fallback=None, names=None,
               convert=None, known_names=None) -> list[Span]:
    """The spans of `text` to protect, in order, none overlapping.

    known(word) → bool: whether the model knows an English word (a name-like word it does not know is kept
    as it is); chinese_source: every Latin-script word is kept (a run of them with spaces between is one
    span); glossary: a Glossary whose terms are replaced by their targets; fallback(word) → translation or
    None: for another word the model does not know, a dictionary's translation (engine/data/dictionary.py);
    names(text) → [(start, end, English)]: Chinese names to carry into English (engine/text/names.py);
    convert(text) → [(start, end, output)]: dates, times and abbreviations written the other language's way
    (engine/text/conversions.py); known_names(word) → translation or None: where a sentence carries an
    unknown name, a name the model knows (Peter) is carried too, as the dictionary writes it (彼得): a
    model that reads one name as a placeholder writes the placeholder in the other name's place.
    """
    spans = list(glossary.find(text)) if glossary is not None else []
    carried, named = False, []
    for found in (convert, names):
        for a, b, output in found(text) if found is not None else ():
            # (a name converted with its title, Dr. Okafor, is carried: Peter beside it is carried too)
            unknown = (w for w in re.findall(WORD, text[a:b]) if is_name_like(w) and not known(w)) if known is not None else ()
            carried = carried or any(unknown)
            if not any(s.start < b and a < s.end for s in spans):
                # converted into Chinese (2007年6月29日, 下午3点) it stands where a name would (as a number it got a
                # measure word after it: 2007年6月29日年); into English (June 29) where a number would ("in June 29")
                spans.append(Span(a, b, "N" if chinese_source and any(c.isdigit() for c in output) else "W", output))
    taken = [(s.start, s.end) for s in spans]
    for match in TOKEN.finditer(text):
        if any(a < match.end() and match.start() < b for a, b in taken):
            continue
        kind = match.lastgroup
        word = match.group()
        if kind == "word" and not chinese_source and len(word) > 2 and word.endswith("'s"):
            word = word[:-2]  # (a possessive: the name is carried, 's is the model's to translate: Kowalski的车)
        output, start, end = word, match.start(), match.start() + len(word)
        if kind == "number" and start and text[start - 1] in CURRENCIES:  # (€1,250: the model writes no €, ¥, £)
            start, output = start - 1, text[start - 1] + word
        if kind == "word":
            unknown = known is not None and not known(word)
            translated = fallback(word) if unknown and fallback is not None and not is_name_like(word) else None
            if translated:
                output = translated
            elif not (chinese_source or (unknown and is_name_like(word))):
                if known_names is not None and is_name_like(word):
                    named.append((start, end, word))
                continue
            carried = carried or (unknown and is_name_like(word) and not translated)
        spans.append(Span(start, end, "N" if kind == "number" else "W", output))
    for start, end, word in named if carried else ():
        written = known_names(word)
        if written:
            spans.append(Span(start, end, "W", written))
    spans.sort(key=lambda s: s.start)
    spans = _merge_number_runs(text, spans)
    return _merge_word_runs(text, spans)


def _merge_number_runs(text: str, spans: list[Span]) -> list[Span]:
    """Numbers with only spaces between them ("1 2 3", "+86 10 1234 5678") are one span: the
    model copies one placeholder, not a run of them glued together."""
    merged: list[Span] = []
    for span in spans:
        last = merged[-1] if merged else None
        if last is not None and last.kind == span.kind == "N" and text[last.end : span.start].isspace():
            merged[-1] = Span(last.start, span.end, "N", text[last.start : span.end])
        else:
            merged.append(span)
    return merged


def split_overflow(text: str, spans: list[Span]) -> list[tuple[str, list[Span]]]:
    """A sentence with more spans of a kind than there are placeholders (MAX_PER_KIND), cut into
    pieces that each have few enough (at the last space before the span that would be one too
    many), each with its spans; a sentence within the limit is one piece."""
    pieces, start, counts, first = [], 0, dict.fromkeys(KINDS, 0), 0
    for k, span in enumerate(spans):
        if counts[span.kind] == MAX_PER_KIND:
            previous_end = spans[k - 1].end if k else start
            space = text.rfind(" ", previous_end, span.start)
            cut = space if space > start else span.start
            pieces.append((start, cut, spans[first:k]))
            start, first, counts = cut, k, dict.fromkeys(KINDS, 0)
        counts[span.kind] += 1
    pieces.append((start, len(text), spans[first:]))
    out = []
    for a, b, own in pieces:
        lead = len(text[a:b]) - len(text[a:b].lstrip())
        piece = text[a:b].strip()
        if piece:
            out.append((piece, [Span(s.start - a - lead, s.end - a - lead, s.kind, s.output) for s in own]))
    return out


def _merge_word_runs(text: str, spans: list[Span]) -> list[Span]:
    """Words kept as they are with only spaces between, one span: Latin words in a Chinese sentence
    ("Python programming"), and an English name of several words the model does not know ("Zhang
    Wei", "Ethan Hunt": as two placeholders the model put them apart, Zhang在Suzhou工作Wei)."""
    merged: list[Span] = []
    for span in spans:
        last = merged[-1] if merged else None
        if (
            last is not None and last.kind == span.kind == "W" and last.output == text[last.start : last.end]
            and span.output == text[span.start : span.end] and not text[last.end : span.start].strip()
        ):
            merged[-1] = Span(last.start, span.end, "W", text[last.start : span.end])
        else:
            merged.append(span)
    return merged


def apply_spans(text: str, spans: list[Span], numbers: dict[str, list[int]] | None = None) -> Protected:
    """Replace `spans` by placeholders (⟦N1⟧, ⟦W1⟧, … in order of appearance, or the numbers
    given per kind); spans beyond MAX_PER_KIND of a kind stay as they are."""
    counts = {kind: 0 for kind in KINDS}
    out, mapping, position = [], {}, 0
    for span in spans:
        if counts[span.kind] >= MAX_PER_KIND:
            continue
        index = numbers[span.kind][counts[span.kind]] if numbers else counts[span.kind] + 1
        counts[span.kind] += 1
        placeholder = f"⟦{span.kind}{index}⟧"
        out.append(text[position : span.start])
        out.append(spaced(text, span, placeholder))
        mapping[placeholder] = span.output
        position = span.end
    out.append(text[position:])
    return Protected(" ".join("".join(out).split()), mapping)


def spaced(text: str, span: Span, placeholder: str) -> str:
    """A placeholder glued to a Latin word would merge with it into one subword: keep a space."""
    before = " " if span.start and text[span.start - 1].isalnum() and not HAN.match(text[span.start - 1]) else ""
    after = " " if span.end < len(text) and text[span.end].isalnum() and not HAN.match(text[span.end]) else ""
    return before + placeholder + after


def protect(text: str, known=None, chinese_source: bool = False, glossary=None, fallback=None) -> Protected:
    return apply_spans(text, find_spans(text, known, chinese_source, glossary, fallback))


def restore(output: str, protected: Protected) -> str:
    """The translation with each placeholder replaced by what it stands for. A placeholder the
    source did not have is dropped, a repeated one kept once, one the model left out put before
    the final punctuation. A restored span is never glued to a word or number beside it: a space
    goes between them (`9:30 2026-12-06`, never `9:302026-12-06`)."""
    pieces: list[str | Span] = []  # the output's text, and a Span where a placeholder was
    seen: set[str] = set()
    position = 0
    for match in PLACEHOLDER.finditer(output):
        pieces.append(output[position : match.start()])
        placeholder = match.group()
        if placeholder in protected.spans and placeholder not in seen:
            seen.add(placeholder)
            pieces.append(Span(0, 0, placeholder[1], protected.spans[placeholder]))
        position = match.end()
    pieces.append(output[position:])
    missing = [Span(0, 0, p[1], text) for p, text in protected.spans.items() if p not in seen]
    if missing:
        last = pieces.pop()
        head = last.rstrip("。！？.!?…\"”")
        pieces.extend([head, *missing, last[len(head) :]])
    return _joined(pieces)


_SPACES = re.compile(r" {2,}")


def single_spaced(text: str) -> str:
    """A model's text with no two spaces in a row (a placeholder's space piece beside a word's)."""
    return _SPACES.sub(" ", text)


def _joined(pieces: list) -> str:
    """Text and restored spans as one string, with a space where a span would otherwise touch its
    neighbour (`_space_between`). The model's own text never keeps two spaces in a row (a
    placeholder's space piece beside a word's space); a span is kept exactly as it was."""
    out: list[str] = []
    previous = "text"
    for piece in pieces:
        text = piece.output if isinstance(piece, Span) else single_spaced(piece)
        if not text:
            continue
        kind = "text" if not isinstance(piece, Span) else "link" if LINK.fullmatch(text) else "span"
        if out and _space_between(out[-1][-1], text[0], previous, kind):
            out.append(" ")
        out.append(text)
        previous = kind
    return "".join(out)


def _space_between(left: str, right: str, left_kind: str, right_kind: str) -> bool:
    """Whether a space goes between two touching pieces (left's last character, right's first; each
    "text", the model's own, a restored "span", or a span that is a "link"): never inside the
    model's text; a span and a word or number (a Latin letter or a digit on both sides: `9:30
    2026-12-06`; Chinese needs none); a link and Chinese (访问 https://a.cn 了解: a linker would run
    it on); two spans unless one side is Chinese (€1,250 ¥9,800, but 成都45)."""
    if left_kind == right_kind == "text":
        return False
    if WORD_CHAR.match(left) and WORD_CHAR.match(right):
        return True
    if (right_kind == "link" and HAN.match(left)) or (left_kind == "link" and HAN.match(right)):
        return True
    return "text" not in (left_kind, right_kind) and not (HAN.match(left) or HAN.match(right))
