"""HTML (and XML) markup cut into tokens by source position, in one pass.

Python's `html.parser` rebuilds what it writes out (end tags without their attributes, CDATA and
entities re-encoded), drops an unclosed `<script>` at the end of a document, and rescans an
unfinished tag from its start on every feed, which is quadratic on `<a<a<a…`. This tokenizer keeps
(start, end) offsets into the source instead, and finds each token's end with one `str.find` or
one anchored pattern from where the last token ended, so a document of any shape is read in one
pass (linear time: the fuzz test in tests/test_hostile.py checks it with a time budget per case).

What it recognises, as a browser does (the WHATWG tokenizer, simplified where nothing is lost):
- `<name …>` start tags and `</name …>` end tags (quoted attribute values may hold `>`);
- `<!-- … -->` comments, `<![CDATA[ … ]]>`, `<!…>` declarations, `<?…>` and `</…>` that is not a
  tag (bogus comments);
- raw-text elements (script, style, textarea, title and the other elements whose content is not
  markup): everything up to their end tag is one kept token, closed or not;
- a `<` that starts none of these is text; a construct left open at the end of the document keeps
  the rest of the document as it stands (never translated, never lost).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

# Elements whose content is not markup: it ends only at `</name`.
RAW_TEXT = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext")
# Elements whose text is shown as written (code, preformatted text): kept, never translated.
KEEP_TEXT = {"pre", "code", "kbd", "samp", "var"}

_TAG_NAME = re.compile(r"[^\s/>]*")
_ATTRIBUTE_STOP = re.compile(r"[>=]")
_SPACES = re.compile(r"\s*")
_RAW_END = {name: re.compile(rf"</{name}(?=[\s/>]|$)", re.IGNORECASE) for name in RAW_TEXT}
CHECK_EVERY = 1024  # tokens between two looks at the clock


class TooSlow(Exception):
    """The document was not read within its time budget (a server's --file-timeout)."""


@dataclass(frozen=True)
class Token:
    kind: str  # "markup", "kept" (text written back as it stands) or "text" (translated)
    start: int
    end: int
    name: str | None = None  # a tag's element name (markup that is a whole tag only)
    closing: bool = False  # an end tag
    alone: bool = False  # an element without content (`<br/>`, an XLIFF `<x/>`, Markdown's inline code)


def _tag_end(document: str, i: int) -> int | None:
    """The end of the tag whose name ends at `i`, or None when it is not closed before the end of
    the document. A quoted attribute value may hold `>`."""
    while True:
        stop = _ATTRIBUTE_STOP.search(document, i)
        if stop is None:
            return None
        if document[stop.start()] == ">":
            return stop.end()
        i = _SPACES.match(document, stop.end()).end()  # after `=`: a quoted value runs to its quote
        if i < len(document) and document[i] in "\"'":
            close = document.find(document[i], i + 1)
            if close < 0:
                return None
            i = close + 1


def _tag(document: str, name_at: int, closing: bool) -> tuple[int, str | None, bool]:
    """(end, element name, closing) of the tag whose name starts at `name_at`; a tag left open at
    the end of the document runs to its end and has no name (it is kept as it stands)."""
    name = _TAG_NAME.match(document, name_at)
    end = _tag_end(document, name.end())
    return (len(document), None, False) if end is None else (end, name.group().lower(), closing)


def _until(document: str, start: int, closer: str) -> int:
    found = document.find(closer, start)
    return len(document) if found < 0 else found + len(closer)


def _markup_at(document: str, lt: int) -> tuple[int, str | None, bool] | None:
    """(end, element name of a tag or None, whether it is an end tag) of the markup starting with
    the `<` at `lt`, or None when that `<` is text."""
    nxt = document[lt + 1 : lt + 2]
    if nxt.isascii() and nxt.isalpha():
        return _tag(document, lt + 1, closing=False)
    if nxt == "/":
        after = document[lt + 2 : lt + 3]
        if after.isascii() and after.isalpha():
            return _tag(document, lt + 2, closing=True)
        if after == "":
            return None
        return _until(document, lt + 2, ">"), None, False  # `</>` and `</3…`: a bogus comment
    if document.startswith("<!--", lt):
        return _until(document, lt + 4, "-->"), None, False
    if document.startswith("<![CDATA[", lt):
        return _until(document, lt + 9, "]]>"), None, False
    if nxt in ("!", "?"):
        return _until(document, lt + 2, ">"), None, False
    return None


def tokenize(document: str, deadline: float | None = None, keep=KEEP_TEXT, raw_text=RAW_TEXT) -> list[Token]:
    """The document as tokens covering it exactly, in order (see the module's doc). Text inside
    the elements `keep` is "kept"; `raw_text`: the elements whose content is not markup. deadline:
    a time.monotonic() after which TooSlow is raised."""
    tokens: list[Token] = []
    keeping: list[str] = []  # open elements of KEEP_TEXT
    n, i, text_from = len(document), 0, 0

    def text(end: int) -> None:
        if end > text_from:
            tokens.append(Token("kept" if keeping else "text", text_from, end))

    while i < n:
        if deadline is not None and len(tokens) % CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise TooSlow("the document was not read within its time budget")
        lt = document.find("<", i)
        if lt < 0:
            break
        found = _markup_at(document, lt)
        if found is None:
            i = lt + 1
            continue
        end, name, closing = found
        text(lt)
        self_closing = document[end - 2 : end] == "/>"
        tokens.append(Token("markup", lt, end, name, closing, alone=self_closing and name is not None))
        i = text_from = end
        if name is None:
            continue
        if not closing and name in raw_text and not self_closing:
            close = None if name == "plaintext" else _RAW_END[name].search(document, end)
            content_end = n if close is None else close.start()
            if content_end > end:
                tokens.append(Token("kept", end, content_end))
            i = text_from = content_end
        elif name in keep and not self_closing:
            if closing:
                if name in keeping:
                    del keeping[len(keeping) - 1 - keeping[::-1].index(name) :]
            else:
                keeping.append(name)
    text(n)
    return tokens
