"""Reading parallel corpus files: UTF-8 lines (with or without a byte-order mark, LF, CRLF or
CR), the Anki tab-separated format (`English<TAB>other<TAB>attribution`), plain or zipped.
Every error is a `CorpusError` naming the file and the line. Plain Python, no TensorFlow: the
tools check a file before paying TensorFlow's import time."""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path


class CorpusError(ValueError):
    """A corpus that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)  # (slots: no dict per pair, a third of the memory of a million pairs)
class Pair:
    source: str
    target: str


def chunks_of(items, size: int):
    """items, `size` at a time (the last chunk shorter)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ----------------------------------------------------------------------------------------------
# Text lines: UTF-8 with or without a byte-order mark, LF or CRLF


def decode_line(raw: bytes, number: int, errors: str = "strict") -> str:
    """Line `number` (1-based) of a UTF-8 text, without its line ending and, on line 1, without
    a byte-order mark. Raises UnicodeDecodeError unless errors='replace'."""
    return raw.decode("utf-8-sig" if number == 1 else "utf-8", errors).rstrip("\r\n")


def not_utf8(err: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (byte {err.start + 1})"


_NEWLINE = re.compile(rb"\r\n|\r|\n")


def raw_lines(handle, block: int = 1 << 16):
    """The byte lines of a binary stream, without their endings: LF, CRLF and a lone CR (old Mac
    files) each end a line. Reads what is there (`read1`), so a pipe is translated as it comes."""
    read = getattr(handle, "read1", handle.read)
    parts: list[bytes] = []  # the current line, as it arrives
    after_cr = False
    while chunk := read(block):
        if after_cr and chunk.startswith(b"\n"):  # the LF of a CRLF cut between two reads
            chunk = chunk[1:]
        after_cr = chunk.endswith(b"\r")
        *ended, rest = _NEWLINE.split(chunk)
        for piece in ended:
            parts.append(piece)
            yield b"".join(parts)
            parts = []
        if rest:
            parts.append(rest)
    if parts:
        yield b"".join(parts)


def file_lines(path: str | Path, error=None, name: str | None = None) -> list[str]:
    """The lines of a small UTF-8 text file (a byte-order mark allowed), read whole. A file that
    cannot be read is `error` (CorpusError by default) naming it; bytes that are not UTF-8, naming
    the line too."""
    error, name = error or CorpusError, name or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise error(f"{name}: {err.strerror or err}") from None
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as err:
            raise error(f"{name}:{number}: {not_utf8(err)}") from None
    return lines


def text_lines(handle, name: str, errors: str = "strict", hint: str = ""):
    """Yield the text lines of a binary stream (LF, CRLF or CR endings). An undecodable line is a
    CorpusError naming `name:line` (followed by `hint`), unless errors='replace'."""
    for number, raw in enumerate(raw_lines(handle), start=1):
        try:
            line = decode_line(raw, number, errors)
        except UnicodeDecodeError as err:
            raise CorpusError(f"{name}:{number}: {not_utf8(err)}{hint}") from err
        yield line


# ----------------------------------------------------------------------------------------------
# Reading the Anki format: `source<TAB>target[<TAB>attribution]`


def anki_pairs(raw_lines, name: str, skip_bad_lines: bool = False, skipped: list[int] | None = None):
    """The pairs of an Anki file's byte lines, as they are read.

    Handles a UTF-8 byte-order mark on the first line and CRLF endings. Blank lines are ignored;
    a line that has no tab, an empty side or bytes that are not UTF-8 is an error naming
    `name:line`, unless `skip_bad_lines` counts it instead (in skipped[0]).
    """
    skipped = skipped if skipped is not None else [0]
    for lineno, raw in enumerate(raw_lines, start=1):
        problem = None
        try:
            line = decode_line(raw, lineno)
        except UnicodeDecodeError as err:
            problem, line = not_utf8(err), ""
        if problem is None and not line.strip():
            continue
        if problem is None:
            columns = line.split("\t")
            if len(columns) < 2:
                problem = "expected 'source<TAB>target[<TAB>attribution]', found no tab"
            elif not columns[0].strip() or not columns[1].strip():
                problem = "empty source or target"
        if problem is not None:
            if skip_bad_lines:
                skipped[0] += 1
                continue
            raise CorpusError(f"{name}:{lineno}: {problem} (use --skip-bad-lines to skip such lines)")
        yield Pair(columns[0].strip(), columns[1].strip())


def anki_file_pairs(path: str | os.PathLike, skip_bad_lines: bool = False, skipped: list[int] | None = None):
    """The pairs of an Anki `.txt`, or of the `.zip` as distributed (the one text file that is not
    `_about`), streamed as they are read."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith(".txt") and "about" not in n.lower()]
            if len(members) != 1:
                raise CorpusError(f"{path}: expected one corpus .txt in the zip, found {members}")
            with archive.open(members[0]) as member:
                yield from anki_pairs(member, f"{path}!{members[0]}", skip_bad_lines, skipped)
        return
    with open(path, "rb") as handle:
        yield from anki_pairs(handle, str(path), skip_bad_lines, skipped)


def read_anki(path: str | os.PathLike, skip_bad_lines: bool = False) -> tuple[list[Pair], int]:
    """Read an Anki `.txt`, or the `.zip` as distributed, whole: (pairs, bad lines skipped)."""
    skipped = [0]
    pairs = list(anki_file_pairs(path, skip_bad_lines, skipped))
    return pairs, skipped[0]
