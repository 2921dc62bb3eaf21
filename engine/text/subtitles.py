"""SRT subtitles for translation: each cue's text is translated, every other byte kept.

A cue is a block of lines between blank lines: a number (optional: some files have none), a
timing line `HH:MM:SS,mmm --> HH:MM:SS,mmm` (position data may follow), then its text. The
numbers, timings and blank lines are written back exactly as they stood (the `srt` library's
composer renumbers a cue without a number as 0 and rewrites `00:99:00,000` as `01:39:00,000`,
which is why this reader replaced it). A timing that is not one (minutes or seconds over 59)
is an error naming the file and line, not a silent rewrite.

The lines of a cue are translated together, as one text, and written as one line. Formatting that
wraps the whole cue (`<i>…</i>`, `<font color=…>…</font>`) and ASS override blocks at its start
(`{\\an8}` positions a cue at the top) are set aside and put back around the translation; an
override block inside the text cuts it into pieces translated one by one, each block kept where
it stood.
"""

from __future__ import annotations

import re
from datetime import timedelta

_TIMESTAMP = r"(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s.*)?$")
_INDEX = re.compile(r"^\s*\d+\s*$")
_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_LEADING_OVERRIDES = re.compile(r"^(?:\s*\{\\[^{}]*\})+\s*")
_WRAPPING_TAG = re.compile(r"^<(i|b|u|font)(\s[^<>]*)?>(.*)</\1>$", re.IGNORECASE | re.DOTALL)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


class FormatError(ValueError):
    """A file that is not SRT; the message names the file and line."""


def _timestamp(hours: str, minutes: str, seconds: str, millis: str, name: str, number: int) -> timedelta:
    if int(minutes) > 59 or int(seconds) > 59:
        raise FormatError(f"{name}:{number}: {hours}:{minutes}:{seconds},{millis} is not a time (minutes and seconds go to 59)")
    return timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds), milliseconds=int(millis.ljust(3, "0")))


class Subtitles:
    """A document read once: `texts` are the cues' texts to translate (lines joined by a space,
    wrapping tags and override blocks set aside), `render(translations)` the document with them
    put back."""

    def __init__(self, document: str, name: str = "<srt>"):
        self.lines = [m.group() for m in _LINE.finditer(document) if m.group()]
        self.cues: list[tuple[int, int, list[tuple[str, str, str]]]] = []  # (first text line, end, pieces)
        self.texts: list[str] = []
        self.text_lines: list[int] = []  # the line (1-based) each of `texts` starts on
        self._read(name)

    def _read(self, name: str) -> None:
        i, n = 0, len(self.lines)
        while i < n:
            if not self.lines[i].strip():
                i += 1
                continue
            start = i
            while i < n and self.lines[i].strip():
                i += 1
            self._cue(start, i, name)

    def _cue(self, start: int, end: int, name: str) -> None:
        lines = [line.rstrip("\r\n") for line in self.lines[start:end]]
        timing = 1 if _INDEX.match(lines[0]) and len(lines) > 1 else 0
        line = start + timing + 1  # (1-based: the timing line)
        times = _TIMING.match(lines[timing])
        if times is None:
            raise FormatError(f"{name}:{line}: not a subtitle cue (number, then 'start --> end', then text)")
        if _timestamp(*times.groups()[4:], name, line) < _timestamp(*times.groups()[:4], name, line):
            raise FormatError(f"{name}:{line}: the cue ends before it starts")
        pieces = _pieces(" ".join(" ".join(lines[timing + 1 :]).split()))
        self.cues.append((line, end, pieces))
        texts = [middle for _, middle, _ in pieces if middle]
        self.texts.extend(texts)
        self.text_lines.extend([line + 1] * len(texts))

    def render(self, translations: list[str]) -> str:
        out, taken, position = [], iter(translations), 0
        for first, end, pieces in self.cues:
            out.extend(self.lines[position:first])
            if first < end:
                newline = self.lines[end - 1][len(self.lines[end - 1].rstrip("\r\n")) :]
                out.append("".join(before + (next(taken) if middle else "") + after for before, middle, after in pieces) + newline)
            position = end
        out.extend(self.lines[position:])
        return "".join(out)


def _pieces(text: str) -> list[tuple[str, str, str]]:
    """A cue's text as (kept before, translated, kept after) pieces; joined, they are the text."""
    lead = _LEADING_OVERRIDES.match(text)
    before = lead.group() if lead else ""
    rest = text[len(before) :]
    wrapped = _WRAPPING_TAG.match(rest)
    if wrapped and "<" not in wrapped.group(3) and wrapped.group(3).strip():
        open_tag, close_tag = rest[: rest.index(">") + 1], rest[len(rest) - len(wrapped.group(1)) - 3 :]
        pieces = _pieces(wrapped.group(3))
        pieces[0] = (before + open_tag + pieces[0][0], *pieces[0][1:])
        pieces[-1] = (*pieces[-1][:2], pieces[-1][2] + close_tag)
        return pieces
    pieces, position = [], 0
    for block in [*_OVERRIDE.finditer(rest), None]:
        segment = rest[position : block.start() if block else len(rest)]
        core = segment.strip()
        if core:
            lead_space = segment[: len(segment) - len(segment.lstrip())]
            pieces.append((lead_space, core, segment[len(segment.rstrip()) :]))
        elif segment:
            pieces.append((segment, "", ""))
        if block:
            pieces.append((block.group(), "", ""))
            position = block.end()
    if not pieces:
        return [(before, "", "")]
    pieces[0] = (before + pieces[0][0], *pieces[0][1:])
    return pieces
