"""HTML documents for translation: cut into markup and text by source position
(engine/text/markup.py), and written back byte for byte wherever nothing is translated.

Kept as written: markup, the content of raw-text elements, and the text inside pre, code, kbd,
samp and var (entities are not decoded there: `<pre>&lt;img…&gt;</pre>` stays exactly that).
Translated: other text with a letter or digit in it, entities decoded for the model and the
translation escaped again for its context.
"""

from __future__ import annotations

import html
import re

from engine.text.markup import KEEP_TEXT, RAW_TEXT, Token, TooSlow, tokenize  # noqa: F401  (TooSlow: named here for the tools)
from engine.text.segment import as_label

# Elements that stay inside a sentence (translated with it, see HtmlDocument).
INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "dfn", "em", "font", "i", "mark", "q", "s", "small", "span", "strong", "sub",
          "sup", "u", "time", "data", "ins", "del", "code", "kbd", "samp", "var"}
MARKER = 0xE001  # the private-use character that stands for a run's first inline element (then 0xE002, …)
_LETTER_OR_DIGIT = re.compile(r"\w")
PREFIX_SEARCH = 40  # an element's translation up to this long is also looked for by its start


class HtmlDocument:
    """A document read once: `texts` are what to translate (entities decoded, whitespace runs made
    one space), `render(translations)` the document with them put back.

    Inline elements stay inside their sentence: `<p>Tom lives in <b>Toronto</b>.</p>` is translated
    as the one sentence `Tom lives in Toronto.` (a fragment translated alone loses its sentence and
    loops: `新鲜的包包面包包…`). The element's own text is also translated alone, only to find where
    it went: where that translation stands in the sentence's, the tags go around it
    (`汤姆住在<b>多伦多</b>。`); where it cannot be found, around the whole sentence. An element
    whose text is code (`<code>`, `<kbd>`, …) is carried as a private-use character instead,
    which the text pipeline keeps like a name, and comes back exactly as written; so is an
    element of `placeholders` without content (`alone`). No tag is ever dropped. A run of text
    whose inline tags do not pair up is translated piece by piece.

    Other markups (XLIFF's inline codes, Markdown's) are read the same way with their own element
    sets, escaping and tokens (engine/text/xliff.py, engine/text/markdown.py)."""

    inline = frozenset(INLINE)  # elements that stay inside a sentence
    keep = frozenset(KEEP_TEXT)  # elements whose text is kept as written (carried as a marker inside a run)
    placeholders: frozenset = frozenset()  # elements alone (no content) carried as a marker inside a run
    raw_text = RAW_TEXT

    def __init__(self, document: str, deadline: float | None = None, tokens: list[Token] | None = None):
        self.document = document
        self.tokens = tokens if tokens is not None else tokenize(document, deadline, self.keep, self.raw_text)
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

    @staticmethod
    def escape(text: str) -> str:
        """A translation made safe for the document's text (HTML: `&`, `<`, `>` as entities)."""
        return html.escape(text, quote=False)

    @staticmethod
    def unescape(text: str) -> str:
        """The document's text as the model reads it (HTML: entities decoded)."""
        return html.unescape(text)

    def _decoded(self, token: Token) -> str:
        return self.unescape(self.document[token.start : token.end])

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
            if token.kind == "markup" and token.name not in self.inline:
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
            if token.alone and token.name in self.placeholders:
                elements.append((j, j))
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
            if j in opens and self._kept(j):
                parts.append(chr(MARKER + marker))
                marker += 1
                j = opens[j] + 1
                continue
            if self.tokens[j].kind != "markup":
                parts.append(self._decoded(self.tokens[j]))
            j += 1
        return " ".join("".join(parts).split())

    def _kept(self, a: int) -> bool:
        """The element opened by token a comes back exactly as written (carried as a marker)."""
        token = self.tokens[a]
        return token.name in self.keep or (token.alone and token.name in self.placeholders)

    def _content(self, a: int, b: int) -> str:
        """The text between an element's tags (token a and b), as the model reads it."""
        return " ".join(self.unescape(self.document[self.tokens[a].end : self.tokens[b].start]).split()) if b > a else ""

    def _plan_run(self, start: int, end: int, elements, outer: str) -> None:
        first, last = self._raw(start), self._raw(end - 1)
        lead = first[: len(first) - len(first.lstrip())] if self.tokens[start].kind == "text" else ""
        trail = last[len(last.rstrip()) :] if self.tokens[end - 1].kind == "text" else ""
        entry = self._entry(outer, self.tokens[start].start)
        inner = []
        for a, b in elements:
            content, keep = self._content(a, b), self._kept(a)
            own = self._entry(content, self.tokens[a].end) if not keep and _LETTER_OR_DIGIT.search(content) else None
            inner.append((a, b, keep, own))
        self.plan.append(("run", lead, entry, inner, trail))

    def render(self, translations: list[str]) -> str:
        """The document with each of `texts` replaced by its translation (escaped for HTML text,
        the whitespace around it kept); every other byte as it was. A text without a full stop (a
        heading, a button) gets none in its translation either."""
        translations = [as_label(source, text) for source, text in zip(self.texts, translations)]
        out = []
        for step in self.plan:
            if step[0] == "raw":
                out.append(self._raw(step[1]))
            elif step[0] == "text":
                out.append(self._spaced(self._raw(step[1]), translations[step[2]]))
            else:
                out.append(self._render_run(step, translations))
        return "".join(out)

    def _spaced(self, raw: str, new: str) -> str:
        lead, trail = raw[: len(raw) - len(raw.lstrip())], raw[len(raw.rstrip()) :]
        return lead + self.escape(new) + trail

    def _render_run(self, step, translations) -> str:
        _, lead, entry, inner, trail = step
        text = self.escape(translations[entry])
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

    def _locate(self, text: str, translated: str | None, taken) -> tuple[int, int] | None:
        """Where an element's own translation stands in the sentence's (first free place). A short
        fragment translated alone often loops after a right start (`Boston` → `波士顿波士顿了…`):
        where the whole is not found, its longest start that is (two characters at least, whole
        words in Latin script)."""
        if not translated:
            return None
        needle = self.escape(translated.strip().rstrip("。！？.!?，,;；：:")).strip()
        found = self._free(text, needle, taken) if needle else None
        if found is None and len(needle) <= PREFIX_SEARCH:
            for cut in range(len(needle) - 1, 1, -1):
                if needle[cut - 1].isascii() and (needle[cut].isalnum() or cut < 3):
                    continue  # (never half a Latin word)
                found = self._free(text, needle[:cut].rstrip(), taken)
                if found:
                    break
        return found

    @staticmethod
    def _free(text: str, needle: str, taken) -> tuple[int, int] | None:
        at = text.find(needle)
        while at >= 0:
            if not any(a < at + len(needle) and at < b for a, b, _ in taken):
                return at, at + len(needle)
            at = text.find(needle, at + 1)
        return None

    def tags(self) -> list[str]:
        """The markup tokens in order (what translation must keep)."""
        return [self.document[t.start : t.end] for t in self.tokens if t.kind == "markup"]
