"""A translation memory in and out of TMX 1.4, the format every CAT tool (OmegaT, Trados,
Poedit, Weblate) reads and writes, so a memory moves between machines and tools.

Written: one <tu> per entry with `srclang`, `creationdate`/`changedate` (the entry's time, TMX's
`YYYYMMDDThhmmssZ`), its origin and model as <prop type="x-origin">/<prop type="x-model">, and a
<tuv xml:lang> per side. Read: any TMX's bilingual units, in the direction of the unit's
`srclang`, else the header's; where that is `*all*` (or missing), in both directions. Reading
streams (engine.data.formats.tmx_units); a unit without both sides is skipped and counted.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from engine.data.formats import TmxReader, open_stream, tmx_units
from engine.memory.store import ORIGINS, Entry, now

_TMX_TIME, _ISO_TIME = "%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%SZ"


def _tmx_time(iso: str) -> str:
    return datetime.datetime.strptime(iso, _ISO_TIME).strftime(_TMX_TIME)


def _iso_time(tmx: str | None) -> str | None:
    try:
        return datetime.datetime.strptime(tmx or "", _TMX_TIME).strftime(_ISO_TIME)
    except ValueError:
        return None


def write_tmx(entries: Iterable[Entry], stream, tool_version: str = "0.1.0") -> int:
    """Write `entries` to a text stream as a TMX 1.4 document; returns how many."""
    stream.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n<tmx version="1.4">\n'
        f'  <header creationtool="seq2seq" creationtoolversion={quoteattr(tool_version)} datatype="plaintext" '
        f'segtype="sentence" adminlang="en" srclang="*all*" o-tmf="seq2seq-memory" creationdate="{_tmx_time(now())}"/>\n  <body>\n'
    )
    count = 0
    for entry in entries:
        source_lang, target_lang = entry.direction.split("-", 1)
        when = _tmx_time(entry.time)
        stream.write(
            f'    <tu srclang={quoteattr(source_lang)} creationdate="{when}" changedate="{when}">\n'
            f'      <prop type="x-origin">{escape(entry.origin)}</prop>\n'
            + (f'      <prop type="x-model">{escape(entry.model)}</prop>\n' if entry.model else "")
            + f'      <tuv xml:lang={quoteattr(source_lang)}><seg>{escape(entry.source)}</seg></tuv>\n'
            f'      <tuv xml:lang={quoteattr(target_lang)}><seg>{escape(entry.target)}</seg></tuv>\n    </tu>\n'
        )
        count += 1
    stream.write("  </body>\n</tmx>\n")
    return count


def read_tmx_entries(path, skipped: list | None = None) -> Iterator[Entry]:
    """The entries of a TMX file (see the module's doc). `skipped` collects the line of each
    unit that had no two sides to pair."""
    reader = TmxReader()
    with open_stream(Path(path)) as stream:
        for unit in tmx_units(stream, str(path), reader):
            texts = {language.split("-")[0]: text for language, text in unit.segments.items() if text}
            source_lang = (unit.attributes.get("srclang") or reader.header.get("srclang") or "*all*").lower().split("-")[0]
            sources = [source_lang] if source_lang in texts else sorted(texts)
            made = [(a, b) for a in sources for b in sorted(texts) if a != b]
            if len(texts) < 2 or not made:
                if skipped is not None:
                    skipped.append(unit.line)
                continue
            origin = unit.props.get("x-origin", "import")
            origin = origin if origin in ORIGINS else "import"
            time = _iso_time(unit.attributes.get("changedate")) or _iso_time(unit.attributes.get("creationdate")) or ""  # ("": undated, see TranslationMemory.add)
            for a, b in made:
                yield Entry(f"{a}-{b}", texts[a], texts[b], origin, unit.props.get("x-model", ""), time)
