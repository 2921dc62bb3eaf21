"""Glossaries: "always translate X as Y", "never translate our product name".

A glossary file is UTF-8 text, one entry per line: `source term<TAB>target term`. An empty
target (a line `Acme<TAB>`) means "keep the term as it is"; a line with no TAB at all is an error
naming the file and line (a TAB typed as spaces would otherwise keep the whole line as one term). Blank lines and lines
starting with # are skipped. A term matches case-insensitively for Latin script, on word
boundaries (so "cat" is not found in "category"); a Chinese term matches where it stands. The
longest term wins where two overlap. Each match is protected like a number (see
engine/text/protect.py): the model places a placeholder, and the target term replaces it, so a
glossary term's translation appears exactly, in every sentence that has the term.

Matching is a table look-up, not a regular expression: the terms are kept lowercased in a dict
with the set of their lengths, and at each position of a sentence where a term may start, each of
those lengths is looked up once, longest first. Its cost does not grow with the number of terms
(a 200,000-term glossary compiled as one alternation took 76 s and 2.8 GB, and every distinct
per-request glossary stayed in `re`'s cache); it is built once per glossary, on first use.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.files import file_lines
from engine.text.normalise import normalise
from engine.text.protect import Span


class GlossaryError(ValueError):
    """A glossary that cannot be read; the message names the file and line."""


@dataclass
class Glossary:
    entries: dict[str, str] = field(default_factory=dict)  # normalised source term → target ("" keeps it)

    def __post_init__(self):
        self._table = None

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def add(self, term: str, target: str = "") -> None:
        for text in (term, target):
            if any("\ud800" <= c <= "\udfff" for c in text):
                raise GlossaryError(f"glossary: {text.encode('utf-8', 'backslashreplace').decode()!r} is not valid Unicode (a lone surrogate)")
        term = normalise(term)
        if not term:
            raise ValueError("a glossary term cannot be empty")
        self.entries[term] = normalise(target)
        self._table = None

    def remove(self, term: str) -> bool:
        key = self._key(normalise(term))
        if key is None:
            return False
        del self.entries[key]
        self._table = None
        return True

    def _key(self, term: str) -> str | None:
        return next((k for k in self.entries if k.casefold() == term.casefold()), None)

    def find(self, text: str):
        """Spans of `text` where a term stands, longest terms first, none overlapping."""
        if not self.entries:
            return
        if self._table is None:
            self._table = _Table(self.entries)
        yield from self._table.find(text)

    @classmethod
    def parse(cls, lines, name: str) -> Glossary:
        glossary = cls()
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            columns = line.split("\t")
            if len(columns) == 1:
                raise GlossaryError(f"{name}:{number}: no TAB between the term and its translation (write 'term<TAB>translation', or 'term<TAB>' to keep the term as it is)")
            if len(columns) > 2:
                raise GlossaryError(f"{name}:{number}: expected 'term<TAB>translation', found {len(columns)} columns")
            if not columns[0].strip():
                raise GlossaryError(f"{name}:{number}: empty source term")
            glossary.add(columns[0].strip(), columns[1].strip())
        return glossary

    @classmethod
    def load(cls, path: str | Path) -> Glossary:
        return cls.parse(file_lines(path, GlossaryError), str(path))

    @classmethod
    def from_mapping(cls, mapping: dict) -> Glossary:
        """A glossary from {term: translation} (the HTTP API's `glossary` field)."""
        glossary = cls()
        for term, target in mapping.items():
            if not isinstance(term, str) or not isinstance(target, str):
                raise GlossaryError("glossary: terms and translations must be strings")
            glossary.add(term, target)
        return glossary


class GlossaryCache:
    """Glossaries by their entries, so a glossary sent with many requests is built once; the
    least recently used go first once the entries held pass `max_bytes` (counted as UTF-8 text
    plus a fixed cost per entry for the tables)."""

    ENTRY_COST = 200  # bytes of dict and table slots per entry, beyond its text

    def __init__(self, max_bytes: int = 8_000_000):
        self.max_bytes, self.size = max_bytes, 0
        self.held: OrderedDict[frozenset, tuple[Glossary, int]] = OrderedDict()

    def get(self, entries: dict[str, str]) -> Glossary:
        key = frozenset(entries.items())
        if key in self.held:
            self.held.move_to_end(key)
            return self.held[key][0]
        glossary = Glossary(dict(entries))
        cost = sum(len(t.encode()) + len(v.encode()) + self.ENTRY_COST for t, v in entries.items())
        if cost <= self.max_bytes:
            self.held[key] = (glossary, cost)
            self.size += cost
            while self.size > self.max_bytes:
                _, (_, dropped) = self.held.popitem(last=False)
                self.size -= dropped
        return glossary


def _lowered(text: str) -> str:
    """Lowercase, one character for one (a character whose lowercase is longer stays itself), so
    offsets into the lowered text are offsets into the text."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _is_latin_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


class _Table:
    """The terms of a glossary for look-up (see the module's doc)."""

    def __init__(self, entries: dict[str, str]):
        self.targets = {_lowered(term): target for term, target in entries.items()}
        self.lengths = sorted({len(term) for term in self.targets}, reverse=True)

    def find(self, text: str):
        lowered, position, n = _lowered(text), 0, len(text)
        while position < n:
            if position and _is_latin_word_char(text[position]) and _is_latin_word_char(text[position - 1]):
                position += 1  # (inside a Latin word: no term starting with a letter or digit begins here)
                continue
            found = self._longest_at(text, lowered, position)
            if found is None:
                position += 1
                continue
            end, target = found
            yield Span(position, end, "W", target or text[position:end])
            position = end

    def _longest_at(self, text: str, lowered: str, start: int):
        for length in self.lengths:
            end = start + length
            if end > len(text):
                continue
            target = self.targets.get(lowered[start:end])
            if target is None:
                continue
            if _is_latin_word_char(text[end - 1]) and end < len(text) and _is_latin_word_char(text[end]):
                continue  # (a term ending in a letter or digit ends a word: "cat" is not in "category")
            return end, target
        return None
