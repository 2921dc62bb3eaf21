"""File formats around the translator: the text to translate is cut out, the rest kept as it is.

HTML (Python's own `html.parser`, which reads broken markup without complaint): every tag is
written back exactly as it stood, with its attributes; the text between tags is translated, its
surrounding whitespace kept, entities decoded for the model and escaped again on the way out;
the contents of script, style, code, pre and textarea are not translated, nor are comments and
declarations. Unbalanced markup is translated as far as it goes, and no text is ever dropped.

SRT subtitles (the `srt` library): cue numbers, timings and position data are kept; the lines of
each cue are translated together, as one text, and written as one line.

`translate` is any function from a list of texts to a list of translations (same length).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

KEEP_CONTENT = {"script", "style", "code", "pre", "textarea", "kbd", "samp", "var"}


class FormatError(ValueError):
    """A file that cannot be read in its format; the message names the file and line."""


class _Pieces(HTMLParser):
    """The document as a list of pieces: ("raw", text) kept verbatim, ("text", text) translated."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[str, str]] = []
        self.skipping: list[str] = []

    def _raw(self, text: str) -> None:
        self.pieces.append(("raw", text))

    def handle_starttag(self, tag, attrs):
        self._raw(self.get_starttag_text())
        if tag in KEEP_CONTENT:
            self.skipping.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._raw(self.get_starttag_text())

    def handle_endtag(self, tag):
        self._raw(f"</{tag}>")
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        self.pieces.append(("raw" if self.skipping else "text", data))

    def handle_comment(self, data):
        self._raw(f"<!--{data}-->")

    def handle_decl(self, decl):
        self._raw(f"<!{decl}>")

    def handle_pi(self, data):
        self._raw(f"<?{data}>")

    def unknown_decl(self, data):
        self._raw(f"<![{data}]>")


def html_pieces(document: str) -> list[tuple[str, str]]:
    parser = _Pieces()
    parser.feed(document)
    parser.close()  # what is left of unbalanced markup comes out as data: no text is dropped
    return parser.pieces


def translate_html(document: str, translate) -> str:
    """The document with the text between its tags translated (see the module's doc)."""
    pieces = html_pieces(document)
    texts = [(i, text) for i, (kind, text) in enumerate(pieces) if kind == "text" and re.search(r"\w", text)]
    translated = translate([" ".join(text.split()) for _, text in texts])
    out = [html.escape(text, quote=False) if kind == "text" else text for kind, text in pieces]
    for (i, text), new in zip(texts, translated):
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        out[i] = lead + html.escape(new, quote=False) + trail
    return "".join(out)


def tag_sequence(document: str) -> list[str]:
    """The tags of a document in order (what translation must keep)."""
    return [text for kind, text in html_pieces(document) if kind == "raw" and text.startswith("<")]


def translate_srt(document: str, translate, name: str = "<srt>") -> str:
    """Subtitles with every cue's text translated; numbering, timings and positions kept."""
    import srt

    try:
        cues = list(srt.parse(document))
    except srt.SRTParseError as err:
        line = document.count("\n", 0, err.expected_start) + 1
        raise FormatError(f"{name}:{line}: not a subtitle cue (number, then 'start --> end', then text)") from err
    for cue in cues:  # srt reads a stray block after a cue as more of its text, across the blank line
        if re.search(r"\n\s*\n", cue.content.strip()):
            stray = re.split(r"\n\s*\n", cue.content.strip(), maxsplit=1)[1]
            line = document.count("\n", 0, max(document.find(stray), 0)) + 1
            raise FormatError(f"{name}:{line}: not a subtitle cue (number, then 'start --> end', then text)")
    texts = [" ".join(cue.content.split()) for cue in cues]
    translated = translate(texts)
    for cue, new in zip(cues, translated):
        cue.content = new
    return srt.compose(cues, reindex=False, strict=False)
