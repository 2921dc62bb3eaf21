"""Sentences: a line is translated sentence by sentence and put back together.

English (and any Latin-script text) is cut by pySBD, a rule-based segmenter that knows
abbreviations ("Mr.", "e.g."), decimals ("3.5"), times ("7:45 a.m.") and quoted speech; Chinese
text after 。！？ (and their ASCII forms, runs like ？！ and the ellipsis …… included), with the
closing quotes and brackets that follow staying with their sentence ("“你来了。”他说。" is one
sentence, as a reader sees it). The segmenter loads once per process.

pySBD's time grows with the square of the number of sentences it is given at once (`'a. ' * 20000`
takes 43 s), so a long text is given to it a window of at most WINDOW characters at a time: the
sentences of a window but its last are kept, and the next window starts where that last one
starts. Linear in the text; a sentence longer than a window is cut at a space.

Spans come before sentences: URLs, e-mail addresses, numbers (3.14, 9:30, 2026-12-06) and text
like a placeholder are masked (one private-use character each) before the text is cut, so no
sentence ends inside one (`https://example.com/news?id=42` stays whole), and put back after.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.text.protect import EMAIL, MARK, NUMBER, URL
from engine.text.script import HAN

_CHINESE_END = re.compile(r"(?:[。！？!?]+|…+|\.{3,})[”’」』）)\]》]*")
_ENDING = re.compile(r"[.!?。！？…]")
_SENTENCE_END = re.compile(r"[.!?。！？…:：;；]$")
WINDOW = 600  # characters given to pySBD at once
MASK = "\ue000"  # stands for one span while the text is cut (a private-use character)
_SPAN = re.compile(rf"{MASK}|{MARK}|{URL}|{EMAIL}|{NUMBER}")


@lru_cache(maxsize=1)
def _english_segmenter():
    import pysbd  # (deferred: its rules load in a fifth of a second, and only English text needs them)

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (stripped, none empty); a text with at most one sentence ending
    comes back whole without calling the segmenter."""
    text = text.strip()
    if not text:
        return []
    if _one_sentence(text):
        return [text]
    spans = [m.group() for m in _SPAN.finditer(text)]
    masked = _SPAN.sub(MASK, text) if spans else text
    if _one_sentence(masked):  # (its only sentence endings were inside spans: 3.14, a URL's ?)
        return [text]
    if HAN.search(masked):
        sentences = _split_chinese(masked)
    else:
        sentences = [s.strip() for s in _split_english(masked) if s.strip()]
    return _unmasked(sentences, spans) if spans else sentences


def _one_sentence(text: str) -> bool:
    """No sentence ending before the text's own final punctuation."""
    return not _ENDING.search(text.rstrip(".!?。！？…”’」』）)]》\"' "))


def _unmasked(sentences: list[str], spans: list[str]) -> list[str]:
    """The sentences with each mask replaced by its span again, in order."""
    taken = iter(spans)
    return [re.sub(MASK, lambda _: next(taken), sentence) for sentence in sentences]


def _split_english(text: str) -> list[str]:
    """pySBD over windows of the text (see the module's doc)."""
    sentences, start = [], 0
    while len(text) - start > WINDOW:
        cut = text.rfind(" ", start + 1, start + WINDOW)
        cut = cut if cut > start else start + WINDOW
        pieces = _pysbd_pieces(text[start:cut])
        if len(pieces) < 2:  # one sentence longer than the window
            sentences.append(text[start:cut])
            start = cut
            continue
        sentences.extend(pieces[:-1])
        start += sum(map(len, pieces[:-1]))
    sentences.extend(_pysbd_pieces(text[start:]))
    return sentences


def _pysbd_pieces(text: str) -> list[str]:
    """`text` cut where pySBD's sentences start: the pieces cover the text exactly once (pySBD's
    own sentence texts can overlap on odd input, which would repeat a span's mask)."""
    starts = sorted({0, *(span.start for span in _english_segmenter().segment(text) if 0 < span.start < len(text))})
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]


def _split_chinese(text: str) -> list[str]:
    sentences, start = [], 0
    for match in _CHINESE_END.finditer(text):
        end, after = match.end(), text[match.end() : match.end() + 1]
        quoted = match.group()[-1] in "”’」』"
        if quoted and HAN.match(after):  # “你来了。”他说。: the quote belongs to the sentence
            continue
        sentences.append(text[start:end])
        start = end
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def join_sentences(sentences: list[str], chinese: bool) -> str:
    """Translated sentences as one line: Chinese writes them without spaces, English with one."""
    return ("" if chinese else " ").join(s for s in sentences if s)


def as_label(source: str, translation: str) -> str:
    """A label without a full stop (`Open file`, a heading) gets none in its translation either
    (`打开文件`, not `打开文件。`): the models, trained on sentences, end most outputs with one."""
    if not _SENTENCE_END.search(source.rstrip()) and translation.endswith(("。", ".")) and not translation.endswith(".."):
        return translation[:-1]
    return translation
