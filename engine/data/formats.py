"""The corpus formats a user brings, each read as a stream of (line number, source, target):

- the Anki format and any TSV (`source<TAB>target[<TAB>anything]`), engine/data/files.py;
- a pair of aligned plain files, the Moses format OPUS serves, named `train.en+train.zh`
  (line n of one is the translation of line n of the other), or OPUS's Moses zip (two members,
  `X.en-zh.en` and `X.en-zh.zh`);
- TMX, the translation-memory exchange format (`<tu>` units of `<tuv xml:lang>` segments): English
  first, the one other language second, as the Anki files have them;
- any of these compressed with gzip (`.gz`), xz (`.xz`) or bzip2 (`.bz2`), read as a stream.

Every problem is a CorpusError naming the file and the line. Plain Python, no TensorFlow.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.files import CorpusError, Pair, anki_file_pairs, anki_pairs, decode_line, not_utf8, raw_lines

DECOMPRESSORS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
PAIR_JOINER = "+"  # `train.en+train.zh`: two aligned files
SKIP_HINT = " (use --skip-bad-lines to skip such lines)"


CORPUS_SUFFIXES = (".txt", ".tsv", ".zip", ".tmx", *DECOMPRESSORS)  # what marks a spec as a local file


def corpus_name(spec: str) -> str:
    """The file names a spec reads, without their folders: `train.en+train.zh`, `cmn.txt`."""
    pair = aligned_files(spec)
    return PAIR_JOINER.join(p.name for p in pair) if pair is not None else Path(spec).name


def plain_name(path: Path) -> str:
    """The file's name without a compression suffix: `train.en.gz` → `train.en`."""
    return path.name[: -len(path.suffix)] if path.suffix.lower() in DECOMPRESSORS else path.name


def open_stream(path: Path):
    """A binary stream of the file's bytes, decompressed as it is read when its suffix says so.
    A file that cannot be opened is a CorpusError naming it."""
    opener = DECOMPRESSORS.get(path.suffix.lower(), open)
    try:
        return opener(path, "rb")
    except OSError as err:
        raise CorpusError(f"{path}: {err.strerror or err}") from None


def aligned_files(spec: str) -> tuple[Path, Path] | None:
    """(first, second) for a spec naming two aligned files with `+`, else None."""
    if PAIR_JOINER not in spec or Path(spec).exists():
        return None
    first, _, second = spec.rpartition(PAIR_JOINER)
    return Path(first).expanduser(), Path(second).expanduser()


def _decoded(raw: bytes, number: int, name: str) -> str:
    try:
        return decode_line(raw, number)
    except UnicodeDecodeError as err:
        raise CorpusError(f"{name}:{number}: {not_utf8(err)}") from None


def aligned_lines(first, second, first_name: str, second_name: str) -> Iterator[tuple[int, str, str]]:
    """(line, first side, second side) of two aligned byte streams; a stream that ends before
    the other is an error naming the line where it ended."""
    left, right = raw_lines(first), raw_lines(second)
    number = 0
    while True:
        number += 1
        a, b = next(left, None), next(right, None)
        if a is None and b is None:
            return
        if a is None or b is None:
            short, long_ = (first_name, second_name) if a is None else (second_name, first_name)
            raise CorpusError(f"{short}:{number}: the file ends here but {long_} goes on (aligned files need as many lines)")
        yield number, _decoded(a, number, first_name), _decoded(b, number, second_name)


def read_aligned_files(first: Path, second: Path) -> Iterator[tuple[int, str, str]]:
    for path in (first, second):
        if not path.exists():
            raise CorpusError(f"{path}: no such file")
    with open_stream(first) as a, open_stream(second) as b:
        yield from aligned_lines(a, b, str(first), str(second))


def moses_members(archive: zipfile.ZipFile) -> tuple[str, str] | None:
    """The two aligned members of an OPUS Moses zip (`X.en-zh.en`, `X.en-zh.zh`), English
    first, or None when the zip is not one."""
    names = [n for n in archive.namelist() if not n.endswith("/") and "readme" not in n.lower() and "license" not in n.lower()]
    if len(names) != 2 or Path(names[0]).stem != Path(names[1]).stem:
        return None
    return tuple(sorted(names, key=lambda n: (Path(n).suffix != ".en", n)))


def read_moses_zip(path: Path, archive: zipfile.ZipFile, members: tuple[str, str]) -> Iterator[tuple[int, str, str]]:
    with archive.open(members[0]) as a, archive.open(members[1]) as b:
        yield from aligned_lines(a, b, f"{path}!{members[0]}", f"{path}!{members[1]}")


# ----------------------------------------------------------------------------------------------
# TMX: read with expat as it streams (a line number for each unit; no entity or DTD is fetched)

_NATIVE_CODE = {"bpt", "ept", "ph", "it", "ut"}  # inline elements whose text is markup, not words


@dataclass
class TmxUnit:
    """One <tu>: its line, its attributes (srclang, creationdate, changedate, …), its <prop>s
    by type, and its segments by language (lowercased xml:lang)."""

    line: int
    attributes: dict[str, str]
    props: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)


class TmxReader:
    """Collects the units of a TMX stream as expat reads it (`units`, emptied by the caller),
    and the <header>'s attributes."""

    def __init__(self):
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.header: dict[str, str] = {}
        self.units: list[TmxUnit] = []
        self.unit: TmxUnit | None = None
        self.language, self.segment, self.code_depth, self.prop = None, None, 0, None

    def start(self, tag, attributes):
        if tag == "header":
            self.header = dict(attributes)
        elif tag == "tu":
            self.unit = TmxUnit(self.parser.CurrentLineNumber, dict(attributes))
        elif tag == "prop" and self.unit is not None and self.language is None:
            self.prop = (attributes.get("type", ""), [])
        elif tag == "tuv" and self.unit is not None:
            self.language = (attributes.get("xml:lang") or attributes.get("lang") or "").lower()
        elif tag == "seg" and self.language is not None:
            self.segment = []
        elif tag in _NATIVE_CODE and self.segment is not None:
            self.code_depth += 1

    def end(self, tag):
        if tag == "seg" and self.segment is not None:
            self.unit.segments[self.language] = " ".join("".join(self.segment).split())
            self.segment = None
        elif tag in _NATIVE_CODE and self.code_depth:
            self.code_depth -= 1
        elif tag == "prop" and self.prop is not None:
            self.unit.props[self.prop[0]] = "".join(self.prop[1]).strip()
            self.prop = None
        elif tag == "tuv":
            self.language = None
        elif tag == "tu" and self.unit is not None:
            self.units.append(self.unit)
            self.unit = None

    def text(self, data):
        if self.segment is not None and not self.code_depth:
            self.segment.append(data)
        elif self.prop is not None:
            self.prop[1].append(data)


def tmx_units(stream, name: str, reader: TmxReader | None = None) -> Iterator[TmxUnit]:
    """The units of a TMX stream as they are read (64 KB at a time); a document that is not
    well-formed XML is a CorpusError naming the line. `reader` (optional) keeps the header."""
    reader = reader or TmxReader()
    while True:
        chunk = stream.read(1 << 16)
        try:
            reader.parser.Parse(chunk, not chunk)
        except xml.parsers.expat.ExpatError as err:
            raise CorpusError(f"{name}:{err.lineno}: not well-formed TMX ({xml.parsers.expat.ErrorString(err.code)})") from None
        yield from reader.units
        reader.units.clear()
        if not chunk:
            return


def read_tmx(stream, name: str) -> Iterator[tuple[int, str, str]]:
    """(line of the <tu>, English, other language) for each unit of a TMX stream. The other
    language is the one non-English language of the first unit; a unit without both is a bad
    line (an empty side)."""
    other = None
    for unit in tmx_units(stream, name):
        segments = unit.segments
        english = next((text for lang, text in segments.items() if lang.split("-")[0] == "en"), "")
        if other is None:
            others = sorted({lang for lang in segments if lang.split("-")[0] != "en"})
            if len(others) != 1:
                raise CorpusError(f"{name}:{unit.line}: expected English and one other language in a <tu>, found {sorted(segments) or 'none'}")
            other = others[0]
        yield unit.line, english, segments.get(other, "")


def is_tmx(path: Path) -> bool:
    return Path(plain_name(path)).suffix.lower() == ".tmx"


def read_tmx_file(path: Path) -> Iterator[tuple[int, str, str]]:
    with open_stream(path) as stream:
        yield from read_tmx(stream, str(path))


# ----------------------------------------------------------------------------------------------
# One entry for every format


def checked_pairs(rows: Iterator[tuple[int, str, str]], name: str, skip_bad_lines: bool, skipped: list[int]) -> Iterator[Pair]:
    """Pairs from (line, source, target) rows: blank rows are ignored, a row with one side empty
    is an error naming `name:line` unless `skip_bad_lines` counts it (in skipped[0]) instead."""
    for number, source, target in rows:
        source, target = source.strip(), target.strip()
        if not source and not target:
            continue
        if not source or not target:
            if skip_bad_lines:
                skipped[0] += 1
                continue
            raise CorpusError(f"{name}:{number}: empty source or target{SKIP_HINT}")
        yield Pair(source, target)


class PairStream:
    """The pairs of any corpus file (or `a+b` pair of aligned files), read as they are iterated,
    a few lines at a time: a corpus of millions of pairs is never held whole. Each iteration
    reads the file again. `skipped`: the bad lines the last iteration skipped so far
    (`skip_bad_lines`). A compressed file that is damaged is a CorpusError naming it, like any
    other bad input."""

    def __init__(self, spec: str | Path, skip_bad_lines: bool = False):
        self.spec, self.skip_bad_lines, self.skipped = spec, skip_bad_lines, 0

    def __iter__(self) -> Iterator[Pair]:
        counter = [0]
        try:
            for pair in self._pairs(counter):
                self.skipped = counter[0]
                yield pair
            self.skipped = counter[0]
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as err:
            raise CorpusError(f"{self.spec}: cannot be read: {err}") from None

    def _pairs(self, skipped: list[int]) -> Iterator[Pair]:
        spec, skip = self.spec, self.skip_bad_lines
        pair = aligned_files(str(spec))
        if pair is not None:
            yield from checked_pairs(read_aligned_files(*pair), str(spec), skip, skipped)
            return
        path = Path(spec)
        if not path.exists():
            raise CorpusError(f"{path}: no such file")
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = moses_members(archive)
                if members is not None:
                    yield from checked_pairs(read_moses_zip(path, archive, members), str(path), skip, skipped)
                    return
            yield from anki_file_pairs(path, skip, skipped)
        elif is_tmx(path):
            yield from checked_pairs(read_tmx_file(path), str(path), skip, skipped)
        elif path.suffix.lower() not in DECOMPRESSORS:
            yield from anki_file_pairs(path, skip, skipped)
        else:
            with open_stream(path) as stream:  # (line by line as a plain file is read)
                yield from anki_pairs(stream, str(path), skip, skipped)


def read_corpus(spec: str | Path, skip_bad_lines: bool = False) -> tuple[list[Pair], int]:
    """Any corpus, whole, as (pairs, bad lines skipped): see PairStream."""
    stream = PairStream(spec, skip_bad_lines)
    pairs = list(stream)
    return pairs, stream.skipped
