"""HTML documents for translation: cut into markup and text by source position, and written back
byte for byte wherever nothing is translated.

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

Kept as written: markup, the content of raw-text elements, and the text inside pre, code, kbd,
samp and var (entities are not decoded there: `<pre>&lt;img…&gt;</pre>` stays exactly that).
Translated: other text with a letter or digit in it, entities decoded for the model and the
translation escaped again for its context.
"""

from __future__ import annotations

import html
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
_LETTER_OR_DIGIT = re.compile(r"\w")
CHECK_EVERY = 1024  # tokens between two looks at the clock


class TooSlow(Exception):
    """The document was not read within its time budget (a server's --file-timeout)."""


@dataclass(frozen=True)
class Token:
    kind: str  # "markup", "kept" (text written back as it stands) or "text" (translated)
    start: int
    end: int


def _tag_end(document: str, i: int) -> int:
    """The end of the tag whose name starts at `i` (after `<` or `</`); len(document) when it is
    not closed before the end. A quoted attribute value may hold `>`."""
    n = len(document)
    i = _TAG_NAME.match(document, i).end()
    while True:
        stop = _ATTRIBUTE_STOP.search(document, i)
        if stop is None:
            return n
        if document[stop.start()] == ">":
            return stop.end()
        i = _SPACES.match(document, stop.end()).end()  # after `=`: a quoted value runs to its quote
        if i < n and document[i] in "\"'":
            close = document.find(document[i], i + 1)
            if close < 0:
                return n
            i = close + 1


def _until(document: str, start: int, closer: str) -> int:
    found = document.find(closer, start)
    return len(document) if found < 0 else found + len(closer)


def _markup_at(document: str, lt: int) -> tuple[int, str | None, bool] | None:
    """(end, element name of a tag or None, whether it is an end tag) of the markup starting with
    the `<` at `lt`, or None when that `<` is text."""
    nxt = document[lt + 1 : lt + 2]
    if nxt.isascii() and nxt.isalpha():
        end = _tag_end(document, lt + 1)
        return end, _TAG_NAME.match(document, lt + 1).group().lower(), False
    if nxt == "/":
        after = document[lt + 2 : lt + 3]
        if after.isascii() and after.isalpha():
            end = _tag_end(document, lt + 2)
            return end, _TAG_NAME.match(document, lt + 2).group().lower(), True
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


def tokenize(document: str, deadline: float | None = None) -> list[Token]:
    """The document as tokens covering it exactly, in order (see the module's doc). deadline: a
    time.monotonic() after which TooSlow is raised."""
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
        tokens.append(Token("markup", lt, end))
        i = text_from = end
        if name is None or end == n:
            continue
        self_closing = document[end - 2 : end] == "/>"
        if not closing and name in _RAW_END and not self_closing:
            close = None if name == "plaintext" else _RAW_END[name].search(document, end)
            content_end = n if close is None else close.start()
            if content_end > end:
                tokens.append(Token("kept", end, content_end))
            i = text_from = content_end
        elif name in KEEP_TEXT and not self_closing:
            if closing:
                if name in keeping:
                    del keeping[len(keeping) - 1 - keeping[::-1].index(name) :]
            else:
                keeping.append(name)
    text(n)
    return tokens


class HtmlDocument:
    """A document read once: `texts` are what to translate (entities decoded, whitespace runs made
    one space), `render(translations)` the document with them put back."""

    def __init__(self, document: str, deadline: float | None = None):
        self.document = document
        self.tokens = tokenize(document, deadline)
        self.translated = [k for k, t in enumerate(self.tokens) if t.kind == "text" and _LETTER_OR_DIGIT.search(self._decoded(t))]
        self.texts = [" ".join(self._decoded(self.tokens[k]).split()) for k in self.translated]
        self.starts = [self.tokens[k].start for k in self.translated]  # where each of `texts` stands in the document

    def _decoded(self, token: Token) -> str:
        return html.unescape(self.document[token.start : token.end])

    def render(self, translations: list[str]) -> str:
        """The document with each of `texts` replaced by its translation (escaped for HTML text,
        the whitespace around it kept); every other byte as it was."""
        out = [self.document[t.start : t.end] for t in self.tokens]
        for k, new in zip(self.translated, translations):
            raw = out[k]
            lead, trail = raw[: len(raw) - len(raw.lstrip())], raw[len(raw.rstrip()) :]
            out[k] = lead + html.escape(new, quote=False) + trail
        return "".join(out)

    def tags(self) -> list[str]:
        """The markup tokens in order (what translation must keep)."""
        return [self.document[t.start : t.end] for t in self.tokens if t.kind == "markup"]
