"""Glossaries: "always translate X as Y", "never translate our product name".

A glossary file is UTF-8 text, one entry per line: `source term<TAB>target term`. An empty
target (a line `Acme<TAB>` or just `Acme`) means "keep the term as it is". Blank lines and lines
starting with # are skipped. A term matches case-insensitively for Latin script, on word
boundaries (so "cat" is not found in "category"); a Chinese term matches where it stands. The
longest term wins where two overlap. Each match is protected like a number (see
engine/text/protect.py): the model places a placeholder, and the target term replaces it, so a
glossary term's translation appears exactly, in every sentence that has the term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.text.normalise import normalise
from engine.text.protect import Span


class GlossaryError(ValueError):
    """A glossary that cannot be read; the message names the file and line."""


@dataclass
class Glossary:
    entries: dict[str, str] = field(default_factory=dict)  # normalised source term → target ("" keeps it)

    def __post_init__(self):
        self._pattern = None

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def add(self, term: str, target: str = "") -> None:
        term = normalise(term)
        if not term:
            raise ValueError("a glossary term cannot be empty")
        self.entries[term] = normalise(target)
        self._pattern = None

    def remove(self, term: str) -> bool:
        key = self._key(normalise(term))
        if key is None:
            return False
        del self.entries[key]
        self._pattern = None
        return True

    def _key(self, term: str) -> str | None:
        return next((k for k in self.entries if k.casefold() == term.casefold()), None)

    def find(self, text: str):
        """Spans of `text` where a term stands, longest terms first, none overlapping."""
        if not self.entries:
            return
        if self._pattern is None:
            alternatives = [_term_pattern(t) for t in sorted(self.entries, key=len, reverse=True)]
            self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        lowered = {k.casefold(): v for k, v in self.entries.items()}
        for match in self._pattern.finditer(text):
            target = lowered.get(match.group().casefold(), "")
            yield Span(match.start(), match.end(), "W", target or match.group())

    @classmethod
    def parse(cls, lines, name: str) -> Glossary:
        glossary = cls()
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            columns = line.split("\t")
            if len(columns) > 2:
                raise GlossaryError(f"{name}:{number}: expected 'term<TAB>translation', found {len(columns)} columns")
            if not columns[0].strip():
                raise GlossaryError(f"{name}:{number}: empty source term")
            glossary.add(columns[0].strip(), columns[1].strip() if len(columns) == 2 else "")
        return glossary

    @classmethod
    def load(cls, path: str | Path) -> Glossary:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise GlossaryError(f"{path}: {err.strerror or err}") from err
        lines = []
        for number, raw in enumerate(data.splitlines(), start=1):
            try:
                lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError as err:
                raise GlossaryError(f"{path}:{number}: not valid UTF-8 (byte {err.start + 1})") from err
        return cls.parse(lines, str(path))

    @classmethod
    def from_mapping(cls, mapping: dict) -> Glossary:
        """A glossary from {term: translation} (the HTTP API's `glossary` field)."""
        glossary = cls()
        for term, target in mapping.items():
            if not isinstance(term, str) or not isinstance(target, str):
                raise GlossaryError("glossary: terms and translations must be strings")
            glossary.add(term, target)
        return glossary


def _term_pattern(term: str) -> str:
    escaped = re.escape(term)
    if term[:1].isalnum() and term[:1].isascii():
        escaped = r"(?<![A-Za-z0-9])" + escaped
    if term[-1:].isalnum() and term[-1:].isascii():
        escaped += r"(?![A-Za-z0-9])"
    return escaped
