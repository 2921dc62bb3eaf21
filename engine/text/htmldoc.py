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
# Elements that stay inside a sentence (translated with it, see HtmlDocument).
INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "dfn", "em", "font", "i", "mark", "q", "s", "small", "span", "strong", "sub",
          "sup", "u", "time", "data", "ins", "del", "code", "kbd", "samp", "var"}
MARKER = 0xE001  # the private-use character that stands for a run's first inline element (then 0xE002, …)

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
    name: str | None = None  # a tag's element name (markup that is a whole tag only)
    closing: bool = False  # an end tag


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
        tokens.append(Token("markup", lt, end, name, closing))
        i = text_from = end
        if name is None:
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
    one space), `render(translations)` the document with them put back.

    Inline elements stay inside their sentence: `<p>Tom lives in <b>Toronto</b>.</p>` is translated
    as the one sentence `Tom lives in Toronto.` (a fragment translated alone loses its sentence and
    loops: `新鲜的包包面包包…`). The element's own text is also translated alone, only to find where
    it went: where that translation stands in the sentence's, the tags go around it
    (`汤姆住在<b>多伦多</b>。`); where it cannot be found, around the whole sentence. An element
    whose text is code (`<code>`, `<kbd>`, …) is carried as a private-use character instead,
    which the text pipeline keeps like a name, and comes back exactly as written. No tag is ever
    dropped. A run of text whose inline tags do not pair up is translated piece by piece."""

    def __init__(self, document: str, deadline: float | None = None):
        self.document = document
        self.tokens = tokenize(document, deadline)
        self.texts: list[str] = []
        self.starts: list[int] = []  # where each of `texts` stands in the document
        self.plan: list[tuple] = []  # what render writes, in order: ("raw", k), ("text", k, entry), ("run", …)
        k = 0
        while k < len(self.tokens):
            k = self._plan_from(k)

    def lines(self) -> list[int]:
        """The line (1-based) each of `texts` starts on, counted in one pass (`starts` ascend)."""
        found, line, position = [], 1, 0
        for start in self.starts:
            line += self.document.count("\n", position, start)
            position = start
            found.append(line)
        return found

    def _decoded(self, token: Token) -> str:
        return html.unescape(self.document[token.start : token.end])

    def _entry(self, text: str, start: int) -> int:
        self.texts.append(text)
        self.starts.append(start)
        return len(self.texts) - 1

    def _plan_from(self, k: int) -> int:
        """Plan the token at k (or the inline run starting there); the next token to plan."""
        end = max(self._run_end(k), k + 1)
        elements = self._elements(k, end) if end - k > 1 else None
        if elements:
            outer = self._outer(k, end, elements)
            alone = len(elements) == 1 and outer == self._content(*elements[0])  # (an element alone is its own sentence)
            if _LETTER_OR_DIGIT.search(outer) and not alone:
                self._plan_run(k, end, elements, outer)
                return end
        for j in range(k, end):
            self._plan_token(j)
        return end

    def _plan_token(self, k: int) -> None:
        token = self.tokens[k]
        text = self._decoded(token) if token.kind == "text" else ""
        if token.kind == "text" and _LETTER_OR_DIGIT.search(text):
            self.plan.append(("text", k, self._entry(" ".join(text.split()), token.start)))
        else:
            self.plan.append(("raw", k))

    def _run_end(self, k: int) -> int:
        """The end of the run of text and inline tags starting at token k."""
        j = k
        while j < len(self.tokens):
            token = self.tokens[j]
            if token.kind == "markup" and token.name not in INLINE:
                break
            j += 1
        return j

    def _elements(self, start: int, end: int) -> list[tuple[int, int]] | None:
        """The inline elements of a run as (open, close) token indices, each holding text only;
        None when some inline tag of the run is not part of such a pair."""
        elements, j = [], start
        while j < end:
            token = self.tokens[j]
            if token.kind != "markup":
                j += 1
                continue
            close = j + 1
            while close < end and self.tokens[close].kind != "markup":
                close += 1
            closer = self.tokens[close] if close < end else None
            if token.closing or closer is None or not closer.closing or closer.name != token.name:
                return None
            elements.append((j, close))
            j = close + 1
        return elements

    def _outer(self, start: int, end: int, elements) -> str:
        """The run's text as one sentence: an element's text in its place, code as a marker."""
        parts, j, marker = [], start, 0
        opens = {a: b for a, b in elements}
        while j < end:
            if j in opens and self.tokens[j].name in KEEP_TEXT:
                parts.append(chr(MARKER + marker))
                marker += 1
                j = opens[j] + 1
                continue
            if self.tokens[j].kind != "markup":
                parts.append(self._decoded(self.tokens[j]))
            j += 1
        return " ".join("".join(parts).split())

    def _content(self, a: int, b: int) -> str:
        """The text between an element's tags (token a and b), as the model reads it."""
        return " ".join(html.unescape(self.document[self.tokens[a].end : self.tokens[b].start]).split())

    def _plan_run(self, start: int, end: int, elements, outer: str) -> None:
        first, last = self._raw(start), self._raw(end - 1)
        lead = first[: len(first) - len(first.lstrip())] if self.tokens[start].kind == "text" else ""
        trail = last[len(last.rstrip()) :] if self.tokens[end - 1].kind == "text" else ""
        entry = self._entry(outer, self.tokens[start].start)
        inner = []
        for a, b in elements:
            content, keep = self._content(a, b), self.tokens[a].name in KEEP_TEXT
            own = self._entry(content, self.tokens[a].end) if not keep and _LETTER_OR_DIGIT.search(content) else None
            inner.append((a, b, keep, own))
        self.plan.append(("run", lead, entry, inner, trail))

    def render(self, translations: list[str]) -> str:
        """The document with each of `texts` replaced by its translation (escaped for HTML text,
        the whitespace around it kept); every other byte as it was."""
        out = []
        for step in self.plan:
            if step[0] == "raw":
                out.append(self._raw(step[1]))
            elif step[0] == "text":
                out.append(self._spaced(self._raw(step[1]), translations[step[2]]))
            else:
                out.append(self._render_run(step, translations))
        return "".join(out)

    @staticmethod
    def _spaced(raw: str, new: str) -> str:
        lead, trail = raw[: len(raw) - len(raw.lstrip())], raw[len(raw.rstrip()) :]
        return lead + html.escape(new, quote=False) + trail

    def _render_run(self, step, translations) -> str:
        _, lead, entry, inner, trail = step
        text = html.escape(translations[entry], quote=False)
        wraps, unsure = [], []  # (start, end, element) found in the translation; elements not found
        for a, b, keep, own in inner:
            if keep:
                continue
            found = self._locate(text, translations[own] if own is not None else None, wraps)
            if found:
                wraps.append((*found, (a, b)))
            else:
                unsure.append((a, b))
        for start, end, (a, b) in sorted(wraps, reverse=True):
            text = text[:start] + self._raw(a) + text[start:end] + self._raw(b) + text[end:]
        for number, (a, b, _, _) in enumerate(x for x in inner if x[2]):
            marker, element = chr(MARKER + number), self.document[self.tokens[a].start : self.tokens[b].end]  # (kept as written)
            if marker in text:
                first = text.index(marker)
                text = text[:first] + element + text[first + 1 :].replace(marker, "")
            else:  # (lost by the translation: put back at the end)
                text = text.rstrip() + (" " if text.strip() else "") + element
        for a, b in reversed(unsure):
            text = self._raw(a) + text + self._raw(b)
        return lead + text + trail

    def _raw(self, k: int) -> str:
        return self.document[self.tokens[k].start : self.tokens[k].end]

    @staticmethod
    def _locate(text: str, translated: str | None, taken) -> tuple[int, int] | None:
        """Where an element's own translation stands in the sentence's (first free place)."""
        if not translated:
            return None
        needle = html.escape(translated.strip().rstrip("。！？.!?，,;；：:"), quote=False).strip()
        if not needle:
            return None
        at = text.find(needle)
        while at >= 0:
            if not any(a < at + len(needle) and at < b for a, b, _ in taken):
                return at, at + len(needle)
            at = text.find(needle, at + 1)
        return None

    def tags(self) -> list[str]:
        """The markup tokens in order (what translation must keep)."""
        return [self.document[t.start : t.end] for t in self.tokens if t.kind == "markup"]
