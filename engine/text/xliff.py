"""XLIFF files (1.2 and 2.x) for translation: each untranslated source gets a target, and every
other byte of the file is written back as it stood.

- XLIFF 1.2: a `<trans-unit>`'s `<source>` gets a `<target state="needs-review-translation">`
  after it (after `<seg-source>` where there is one), or `state="translated"` when the
  translation memory gave it (a person wrote it). Units in `<alt-trans>` are suggestions, never
  filled.
- XLIFF 2.x: each `<segment>`'s `<source>` gets a `<target>`; `<ignorable>` is left alone.
- A unit marked `translate="no"` is left alone, and so is a target that holds text unless
  `overwrite` (then it is replaced).
- Inline codes stay inline codes: paired elements whose content is text (`<g>`, `<pc>`, `<mrk>`)
  are translated inside their sentence and put around their own text in the translation (as HTML
  inline elements are, engine/text/htmldoc.py); codes (`<x/>`, `<ph>`, `<bpt>`…`<ept>`, `<sc/>`,
  `<ec/>`…) come back exactly as written, where the model put them.

Read with expat (standard library) from the positions it reports: no DTD and no entity
declarations are accepted (the billion-laughs and external-entity attacks need one), and a file
that is not well-formed XML is an error naming its line.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass

from engine.text.htmldoc import HtmlDocument

VERSIONS = {"1": "1.2", "2": "2.x"}  # (by the major version of the root's `version` attribute)
UNITS = {"1.2": "trans-unit", "2.x": "segment"}  # the element whose <source> is translated
_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")


class XliffError(ValueError):
    """A file that is not XLIFF this reader accepts; the message names the file and line."""


class XliffSource(HtmlDocument):
    """A <source>'s content: its text and inline codes, read as an HTML run is (see the module's doc)."""

    keep = frozenset({"bpt", "ept", "ph", "it", "sub", "x", "bx", "ex", "sc", "ec", "cp", "sm", "em"})
    placeholders = keep
    inline = keep | {"g", "pc", "mrk"}
    raw_text = frozenset()


@dataclass
class Unit:
    line: int
    content: tuple[int, int] = (0, 0)  # the <source>'s content, as byte offsets
    insert_at: int = 0  # after </source> (or </seg-source>): where a new target goes
    indent: bytes | None = b""  # the whitespace before <source> on its line; None when other markup is there
    target: tuple[int, int] | None = None  # an existing <target …>…</target>, whole
    target_has_text: bool = False


class XliffDocument:
    """A file read once: `texts` are what to translate, `render(translations, remembered)` the file
    with the targets written (see the module's doc). `counts` after render: units, filled, from memory."""

    def __init__(self, document: str, name: str, overwrite: bool = False):
        self.data, self.name = document.encode("utf-8"), name
        self.version: str | None = None
        self.units: list[Unit] = []
        self._read()
        self.newline = b"\r\n" if b"\r\n" in self.data else b"\n"
        self.sources: list[tuple[Unit, XliffSource, int]] = []  # (unit, its source, index of its first text)
        self.texts: list[str] = []
        for unit in self.units:
            if unit.target_has_text and not overwrite:
                continue
            source = XliffSource(self.data[slice(*unit.content)].decode("utf-8"))
            if source.texts:
                self.sources.append((unit, source, len(self.texts)))
                self.texts.extend(source.texts)
        self.counts = {"units": len(self.units), "filled": 0, "from memory": 0}

    # -- reading ---------------------------------------------------------------------------------

    def _read(self) -> None:
        parser = xml.parsers.expat.ParserCreate()
        frames: list[tuple[str, int]] = []  # (element name, end of its start tag) of the open elements
        unit: Unit | None = None
        skipping = False  # inside a unit marked translate="no"
        in_target = False  # inside the existing <target> of `unit`

        def refuse(*_):
            raise XliffError(f"{self.name}:{parser.CurrentLineNumber}: a DTD or entity declaration; XLIFF needs none and it is not read")

        def start(tag: str, attributes: dict) -> None:
            nonlocal unit, skipping, in_target
            name, at = tag.rpartition(":")[2], parser.CurrentByteIndex
            parent = frames[-1][0] if frames else None
            match = _START_TAG.match(self.data, at)
            end = match.end() if match else at
            frames.append((name, end))
            if self.version is None:
                self.version = self._version_of(name, attributes, parser.CurrentLineNumber)
            if in_target:
                unit.target_has_text = True  # (an inline code inside an existing target is content too)
            if name in ("trans-unit", "unit"):
                skipping = attributes.get("translate") == "no"
            if name == UNITS[self.version] and not skipping:
                unit = Unit(parser.CurrentLineNumber)
            elif unit is not None and parent == UNITS[self.version]:
                if name == "source":
                    line_start = self.data.rfind(b"\n", 0, at) + 1
                    before = self.data[line_start:at]
                    unit.indent = before if not before.strip() else None  # (None: the source shares its line)
                    unit.content = (end, end)
                elif name == "target":
                    unit.target, in_target = (at, end), not match or not match.group(1)

        def end(tag: str) -> None:
            nonlocal unit, in_target
            name, start_end = frames.pop()
            parent = frames[-1][0] if frames else None
            at = parser.CurrentByteIndex
            closed = self.data.startswith(b"</", at)
            inner_end, after = (at, self.data.index(b">", at) + 1) if closed else (start_end, start_end)
            if unit is None:
                return
            if parent == UNITS[self.version] and name == "source":
                unit.content, unit.insert_at = (unit.content[0], inner_end), after
            elif parent == UNITS[self.version] and name == "seg-source":
                unit.insert_at = after
            elif parent == UNITS[self.version] and name == "target":
                unit.target, in_target = (unit.target[0], after), False
            elif name == UNITS[self.version]:
                if unit.insert_at:
                    self.units.append(unit)
                unit = None

        def text(data: str) -> None:
            if in_target and data.strip():
                unit.target_has_text = True

        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
        try:
            parser.Parse(self.data, True)
        except xml.parsers.expat.ExpatError as err:
            raise XliffError(f"{self.name}:{err.lineno}: not well-formed XML ({xml.parsers.expat.ErrorString(err.code)})") from None
        if self.version is None:
            raise XliffError(f"{self.name}:1: no <xliff> element; not an XLIFF file")

    def _version_of(self, root: str, attributes: dict, line: int) -> str:
        version = attributes.get("version", "")
        if root != "xliff" or version.split(".")[0] not in VERSIONS:
            found = f"<{root} version={version!r}>" if root == "xliff" else f"<{root}>"
            raise XliffError(f"{self.name}:{line}: {found} is not XLIFF 1.x or 2.x")
        return VERSIONS[version.split(".")[0]]

    # -- writing ---------------------------------------------------------------------------------

    def render(self, translations: list[str], remembered: list[bool] | None = None) -> str:
        """The file with a target for each source of `texts` (translations in the same order;
        remembered[i]: translation i came from the translation memory)."""
        remembered = remembered or [False] * len(translations)
        self.counts.update({"filled": 0, "from memory": 0})
        edits: list[tuple[int, int, bytes]] = []  # (start, end, new bytes), in file order
        for unit, source, first in self.sources:
            count = len(source.texts)
            text = source.render(translations[first : first + count])
            from_memory = all(remembered[first : first + count])
            element = self._target(text, from_memory)
            if unit.target is not None:
                edits.append((*unit.target, element))
            else:
                before = b"" if unit.indent is None else self.newline + unit.indent  # (on a line of its own as the source is)
                edits.append((unit.insert_at, unit.insert_at, before + element))
            self.counts["filled"] += 1
            self.counts["from memory"] += from_memory
        out, position = [], 0
        for start, end, new in edits:
            out += [self.data[position:start], new]
            position = end
        out.append(self.data[position:])
        return b"".join(out).decode("utf-8")

    def _target(self, text: str, from_memory: bool) -> bytes:
        if self.version == "1.2":
            state = "translated" if from_memory else "needs-review-translation"
            return f'<target state="{state}">{text}</target>'.encode()
        return f"<target>{text}</target>".encode()
