"""gettext catalogues (.po, .pot) filled by a translator, as translators' tools expect them.

- Only untranslated entries are filled; an entry that has a translation keeps it unless
  `overwrite` (then every entry is translated again). The header and obsolete entries are kept.
- A filled entry is marked `fuzzy`, so a person reviews it before it ships (gettext ignores fuzzy
  entries at run time), unless its translation came from the translation memory: a person
  already wrote that one.
- A message of several lines is translated line by line; its line breaks and each line's outer
  spaces stay where they were (msgfmt checks a leading or trailing newline).
- Plural entries: with one plural form (Chinese: `nplurals=1`) the form is the translation of
  `msgid_plural` (the general one, with its count placeholder); with several, form 0 is
  `msgid`'s translation and the others `msgid_plural`'s. A template without a `Plural-Forms`
  header gets the target language's (`nplurals=1; plural=0;` for Chinese,
  `nplurals=2; plural=(n != 1);` for English).
- A label without a full stop (`Open file`) gets none in its translation (`打开文件`, not
  `打开文件。`).
- Format placeholders (`%s`, `%(count)d`, `{name}`) come through untouched: the text pipeline
  keeps them as spans (engine/text/protect.py `FORMAT`). A translation that lost one anyway stays
  fuzzy with a comment naming it.
- A translation of low confidence (engine/decoding/confidence.py) gets a comment saying so.

Read and written with polib (wrapped at 78 columns, as msgmerge writes them).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polib

from engine.text.protect import FORMAT
from engine.text.segment import as_label

PLURAL_FORMS = {"zh": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}
LANGUAGE_CODES = {"zh": "zh_CN", "en": "en"}
_FORMAT = re.compile(FORMAT)
_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")



class CatalogueError(ValueError):
    """A file polib cannot read as a catalogue; the message names the file."""


def read_catalogue(text: str, name: str) -> polib.POFile:
    """A catalogue from its text; one that polib cannot read is a CatalogueError naming the file."""
    try:
        return polib.pofile(text, wrapwidth=78)
    except (OSError, ValueError) as err:
        raise CatalogueError(f"{name}: not a gettext catalogue ({err})") from None


def plural_count(catalogue: polib.POFile, target: str) -> int:
    """The number of plural forms: the header's, else the target language's (set in the header)."""
    found = _NPLURALS.search(catalogue.metadata.get("Plural-Forms", ""))
    if found and int(found.group(1)) > 0:
        return int(found.group(1))
    forms = PLURAL_FORMS.get(target, PLURAL_FORMS["en"])
    catalogue.metadata["Plural-Forms"] = forms
    if not catalogue.metadata.get("Language"):
        catalogue.metadata["Language"] = LANGUAGE_CODES.get(target, target)
    return int(_NPLURALS.search(forms).group(1))


def _wanted(entry: polib.POEntry, overwrite: bool) -> bool:
    if entry.obsolete or not entry.msgid:
        return False
    if overwrite:
        return True
    if entry.msgid_plural:
        return not all(entry.msgstr_plural.values()) if entry.msgstr_plural else True
    return not entry.msgstr


class Catalogue:
    """A catalogue read once: `texts` are the lines to translate (each once), `render(translations,
    remembered)` the catalogue with its entries filled (see the module's doc); `counts` after
    render: entries, filled, from memory, fuzzy. target_of(a msgid) → the language ("zh", "en") it
    is translated into (for a template's Plural-Forms)."""

    def __init__(self, text: str, name: str, target_of: Callable[[str], str], overwrite: bool = False):
        self.source_text = text
        self.catalogue = catalogue = read_catalogue(text, name)
        self.entries = [e for e in catalogue if _wanted(e, overwrite)]
        self.overwrite = overwrite
        self.forms = plural_count(catalogue, target_of(self.entries[0].msgid)) if any(e.msgid_plural for e in self.entries) else 0
        if "CHARSET" in catalogue.metadata.get("Content-Type", ""):  # (a template's placeholder: we write UTF-8)
            catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
        self.messages = [m for e in self.entries for m in ([e.msgid, e.msgid_plural] if e.msgid_plural else [e.msgid])]
        self.texts = list(dict.fromkeys(line.strip() for message in self.messages for line in message.split("\n") if line.strip()))
        self.counts = {"entries": len([e for e in catalogue if e.msgid and not e.obsolete]), "filled": 0, "from memory": 0, "fuzzy": 0}

    def render(self, translations: list[str], remembered: list[bool] | None = None, low: list[bool] | None = None) -> str:
        """low[i]: translation i has low confidence (its entries get a comment saying so)."""
        remembered, low = remembered or [False] * len(translations), low or [False] * len(translations)
        done = {piece: (as_label(piece, text), known) for piece, text, known in zip(self.texts, translations, remembered)}
        translated = {message: _rebuilt(message, done) for message in self.messages}
        doubtful = {piece for piece, flagged in zip(self.texts, low) if flagged}
        self.counts.update({"filled": 0, "from memory": 0, "fuzzy": 0})
        for entry in self.entries:
            self._fill(entry, translated, doubtful)
        written = str(self.catalogue)
        if not self.catalogue.header and not self.source_text.lstrip().startswith("#") and written.startswith("#\n"):
            written = written[2:]  # (polib writes an empty header comment as a lone '#')
        return written

    def _fill(self, entry: polib.POEntry, translated: dict, doubtful: set[str]) -> None:
        if entry.msgid_plural:
            (single, remembered), (general, plural_remembered) = translated[entry.msgid], translated[entry.msgid_plural]
            kept = {k: v for k, v in entry.msgstr_plural.items() if v and not self.overwrite}  # (a form already written stays)
            entry.msgstr_plural = {**({0: general} if self.forms == 1 else {0: single, **{k: general for k in range(1, self.forms)}}), **kept}
            remembered = plural_remembered and (remembered or self.forms == 1)
            written = " ".join(entry.msgstr_plural.values())
            source = f"{entry.msgid} {entry.msgid_plural}"
        else:
            written, remembered = translated[entry.msgid]
            entry.msgstr, source = written, entry.msgid
        self.counts["filled"] += 1
        self.counts["from memory"] += remembered
        lost = [p for p in dict.fromkeys(_FORMAT.findall(source)) if p not in written]
        if lost:
            entry.tcomment = "\n".join(filter(None, [entry.tcomment, f"seq2seq: the translation lost {', '.join(lost)}; check it"]))
        if any(line.strip() in doubtful for line in source.split("\n")) and not remembered:
            entry.tcomment = "\n".join(filter(None, [entry.tcomment, "seq2seq: low confidence; check it"]))
        if (not remembered or lost) and "fuzzy" not in entry.flags:
            entry.flags.append("fuzzy")
        self.counts["fuzzy"] += "fuzzy" in entry.flags


def _rebuilt(message: str, done: dict) -> tuple[str, bool]:
    """A message translated line by line (its line breaks and each line's outer spaces kept, as
    msgfmt checks them), and whether every line came from the translation memory."""
    lines, remembered = [], True
    for line in message.split("\n"):
        if not line.strip():
            lines.append(line)
            continue
        text, from_memory = done[line.strip()]
        lines.append(line[: len(line) - len(line.lstrip())] + text + line[len(line.rstrip()):])
        remembered = remembered and from_memory
    return "\n".join(lines), remembered
