"""Which script a text is written in: the one home of the Han range and of the rules built on it.

Three questions, three functions, one range:
- `is_han(char)`: is this character a Chinese character?
- `is_chinese(text)`: is this body of text (a corpus side, a vocabulary, a hypothesis) Chinese,
  i.e. are at least half of its letters Han? It decides BLEU's tokenizer and which side of a run
  is Chinese (`chinese_sides`, once per run); runs record the answer (`run.json` "languages",
  `vocab-*.json` "chinese") and read it after.
- `script_of(line)`: is this one line a user typed Chinese or English? Mixed lines need more
  than a share ("我喜欢 Python programming 和 music。" is Chinese), so it also weighs Chinese
  punctuation and English function words. It routes lines in the chat, batch and server tools.
"""

from __future__ import annotations

import re

# CJK Unified Ideographs, extension A, the compatibility block and the supplementary planes'
# extensions B to H: every character Chinese is written in.
HAN_CHAR = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Scripts written without spaces between words (Han, kana, hangul, bopomofo, CJK radicals): a
# word-level tokenizer cuts them one character at a time.
CJK_CHAR = HAN_CHAR + r"\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\uac00-\ud7af"

HAN = re.compile(rf"[{HAN_CHAR}]")
LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
# Chinese sentence punctuation, and English words that only an English sentence has: a line
# with Han characters and either of these is Chinese (我喜欢 Python programming 和 music。) or
# English (I like 饺子 very much.) whatever the count of words.
CHINESE_PUNCTUATION = re.compile(r"[，。！？：；、“”（）]")
ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the i you he she it we they is are was were am be been do does did have has had to of in on at "
    "for with and or but not this that my your his her our their me him us them what who how why where when".split()
)


def is_han(char: str) -> bool:
    return HAN.match(char) is not None


def han_share(text: str) -> float:
    """The share of the letters of `text` that are Han (0.0 for a text without letters)."""
    letters = [c for c in text if c.isalpha()]
    return sum(map(is_han, letters)) / len(letters) if letters else 0.0


def is_chinese(text: str) -> bool:
    """True when at least half the letters of `text` are Han: a body of text, not a mixed line."""
    return han_share(text) >= 0.5  # (a text without letters has a share of 0)


SIDE_SAMPLE = 500  # sentences of a corpus side that decide its language


def chinese_sides(pairs) -> tuple[bool, bool]:
    """(source is Chinese, target is Chinese) for a corpus of pairs, from its first SIDE_SAMPLE
    pairs. A run decides this once, when its data is prepared (run.json "languages"); its
    vocabularies then carry the answer ("chinese") for everything that reads the run."""
    sample = pairs[:SIDE_SAMPLE]
    return is_chinese("".join(p.source for p in sample)), is_chinese("".join(p.target for p in sample))


def script_of(text: str) -> str | None:
    """ "zh" for a Chinese line, "en" for a Latin one, None for a line with neither. A line with at
    least two Han characters for each Latin word is Chinese; so is one with two or more Han
    characters, Chinese punctuation, and no English function word among its Latin words."""
    han = len(HAN.findall(text))
    words = LATIN_WORD.findall(text)
    if not han and not words:
        return None
    if han >= 2 * len(words):
        return "zh"
    english = any(w.lower() in ENGLISH_FUNCTION_WORDS for w in words)
    if han >= 2 and not english and (CHINESE_PUNCTUATION.search(text) or han >= len(words)):
        return "zh"
    return "en"
