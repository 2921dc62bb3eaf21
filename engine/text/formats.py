"""File formats around the translator: the text to translate is cut out, the rest kept as it is.

- HTML (engine/text/htmldoc.py): markup, scripts, styles, comments and code are written back byte
  for byte; the text between tags is translated and escaped for HTML.
- SRT subtitles (engine/text/subtitles.py): numbers, timings and blank lines written back exactly;
  each cue's text translated as one.

`translate` is any function from a list of texts to a list of translations (same length).
"""

from __future__ import annotations

from engine.text.htmldoc import HtmlDocument
from engine.text.subtitles import FormatError, Subtitles  # noqa: F401  (FormatError: named here for the tools)


def translate_html(document: str, translate) -> str:
    """The document with the text between its tags translated (see engine/text/htmldoc.py)."""
    doc = HtmlDocument(document)
    return doc.render(translate(doc.texts))


def tag_sequence(document: str) -> list[str]:
    """The markup of a document in order (what translation must keep)."""
    return HtmlDocument(document).tags()


def translate_srt(document: str, translate, name: str = "<srt>") -> str:
    """Subtitles with every cue's text translated; numbering, timings and positions kept."""
    subtitles = Subtitles(document, name)
    return subtitles.render(translate(subtitles.texts))
