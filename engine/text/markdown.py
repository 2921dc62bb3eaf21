"""Markdown documents for translation: the prose translated, everything else kept as written.

Kept byte for byte: front matter (`---` … `---` at the top), fenced and indented code blocks,
HTML blocks, link reference definitions, thematic breaks, blank lines, and every line outside a
paragraph, heading or table. Translated: the text of paragraphs, headings (ATX and setext), list
items, block quotes and table cells, with their markers (`#`, `>`, `-`, `1.`, `|`) kept.

Inside the text (as HTML inline elements are, engine/text/htmldoc.py):
- inline code (`` `x` ``), images, autolinks (`<https://…>`) and inline HTML tags are carried as
  placeholders and come back exactly as written;
- a link `[text](url "title")` (or `[text][ref]`) and emphasis (`*`, `_`, `**`, `__`, `~~`) are
  translated inside their sentence, and the markup goes around their own text's translation
  (around the whole sentence where that cannot be found); the URL is never translated.

A paragraph wrapped over several lines is translated as one text and written on its first line
(a sentence cut at a line break would be translated in pieces). The blocks are found with
markdown-it-py (the CommonMark parser rich already uses), tables included.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from engine.text.htmldoc import HtmlDocument, Token

_FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)\s*$")
# Inline Markdown that is markup, one alternative per kind, tried left to right:
_INLINE = re.compile(
    r"(?P<code>(?<!`)(`+)(?!`).+?(?<!`)\2(?!`))"
    r"|(?P<image>!\[[^\]]*\]\([^()\s]*(?:\s+\"[^\"]*\")?\))"
    r"|(?P<autolink><(?:https?|ftp|mailto):[^<>\s]*>)"
    r"|(?P<html></?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>)"
    r"|(?P<link>\[(?P<link_text>[^\[\]`]+)\](?P<link_end>\([^()\s]*(?:\s+\"[^\"]*\")?\)|\[[^\[\]]*\]))"
    r"|(?P<emphasis>(?P<mark>\*\*|__|~~|\*|_)(?=\S)(?P<emphasised>[^*_~`\[\]]+?)(?<=\S)(?P=mark))"
)
_EMPHASIS = {"**": "strong", "__": "strong", "~~": "s", "*": "em", "_": "em"}


class MarkdownText(HtmlDocument):
    """The text of one paragraph, heading or table cell, with its inline markup as tokens."""

    keep = frozenset({"code", "image", "autolink", "html"})
    placeholders = keep
    inline = keep | {"a", "strong", "em", "s"}

    def __init__(self, text: str):
        super().__init__(text, tokens=inline_tokens(text))

    @staticmethod
    def escape(text: str) -> str:
        return text

    @staticmethod
    def unescape(text: str) -> str:
        return text


def inline_tokens(text: str) -> list[Token]:
    """`text` as tokens covering it exactly: markup (placeholders alone, links and emphasis as an
    opening and a closing token around their text) and text."""
    tokens, position = [], 0

    def plain(end: int) -> None:
        if end > position:
            tokens.append(Token("text", position, end))

    for found in _INLINE.finditer(text):
        if found.group("emphasis") and _intraword(text, found):
            continue
        plain(found.start())
        kind = found.lastgroup if found.lastgroup in ("code", "image", "autolink", "html") else None
        if kind is None and found.group("link"):
            kind = "link"
        if kind in ("code", "image", "autolink", "html"):
            tokens.append(Token("markup", found.start(), found.end(), kind, alone=True))
        elif kind == "link":
            middle = found.start("link_text"), found.end("link_text")
            tokens += [Token("markup", found.start(), middle[0], "a"), Token("text", *middle),
                       Token("markup", middle[1], found.end(), "a", closing=True)]
        else:
            name, middle = _EMPHASIS[found.group("mark")], (found.start("emphasised"), found.end("emphasised"))
            tokens += [Token("markup", found.start(), middle[0], name), Token("text", *middle),
                       Token("markup", middle[1], found.end(), name, closing=True)]
        position = found.end()
    plain(len(text))
    return tokens


def _intraword(text: str, found: re.Match) -> bool:
    """`snake_case_name`: underscores inside a word are not emphasis (CommonMark)."""
    return found.group("mark").startswith("_") and (
        (found.start() > 0 and text[found.start() - 1].isalnum()) or (found.end() < len(text) and text[found.end()].isalnum())
    )


class MarkdownDocument:
    """A document read once: `texts` are what to translate, `render(translations)` the document
    with them put back (see the module's doc)."""

    def __init__(self, document: str):
        self.lines = document.splitlines(keepends=True)
        first = self._front_matter_end()
        # in document order: (line, start, end of the replaced part in that line, the text there,
        # lines dropped after it, the index of its first text in `texts`)
        self.edits: list[tuple[int, int, int, MarkdownText, int, int]] = []
        self.texts: list[str] = []
        body = "".join(self.lines[first:])
        table_cursor: dict[int, int] = {}
        parser = MarkdownIt("commonmark").enable("table")
        tokens = parser.parse(body)
        for k, token in enumerate(tokens):
            if token.type != "inline" or not token.map or not token.content.strip():
                continue
            start, end = token.map[0] + first, token.map[1] + first
            in_cell = k > 0 and tokens[k - 1].type in ("th_open", "td_open")
            if in_cell:
                self._cell(start, token.content.strip(), table_cursor)
            else:
                self._block(start, end, token.content)

    def _front_matter_end(self) -> int:
        if not self.lines or self.lines[0].rstrip("\r\n") != "---":
            return 0
        for number, line in enumerate(self.lines[1:], start=1):
            if _FRONT_MATTER_END.match(line.rstrip("\r\n")):
                return number + 1
        return 0  # (no closing line: not front matter, a thematic break)

    def _add(self, line: int, start: int, end: int, content: str, dropped: int) -> None:
        text = MarkdownText(content)
        if not text.texts:
            return
        self.edits.append((line, start, end, text, dropped, len(self.texts)))
        self.texts.extend(text.texts)

    def _block(self, start: int, end: int, content: str) -> None:
        """A paragraph or heading: its first content line found in its first source line (what
        is before it is the block's markers, what is after a closing `#` run), the others dropped."""
        first_line = content.split("\n")[0].strip()
        line = self.lines[start]
        at = line.find(first_line) if first_line else -1
        if at < 0:
            return  # (not found as written, e.g. an escaped character: kept untranslated, never lost)
        self._add(start, at, at + len(first_line), " ".join(content.split()), end - start - 1)

    def _cell(self, row: int, content: str, cursor: dict[int, int]) -> None:
        line = self.lines[row]
        at = line.find(content, cursor.get(row, 0))
        if at < 0:
            return
        cursor[row] = at + len(content)
        self._add(row, at, at + len(content), content, 0)

    def text_lines(self) -> list[int]:
        """The line (1-based) of each of `texts`."""
        return [edit[0] + 1 for edit in self.edits for _ in edit[3].texts]

    def render(self, translations: list[str]) -> str:
        lines = list(self.lines)
        for line, start, end, text, dropped, first in reversed(self.edits):  # (from the end: earlier positions stay put)
            new = text.render(translations[first : first + len(text.texts)])
            lines[line] = lines[line][:start] + new + lines[line][end:]
            if dropped:  # (the block's other lines go; its last line's ending stays: none at the end of a file)
                last = lines[line + dropped]
                lines[line] = lines[line].rstrip("\r\n") + last[len(last.rstrip("\r\n")) :]
                del lines[line + 1 : line + 1 + dropped]
        return "".join(lines)
