"""Training pairs with the spans that stand on both sides as the same placeholder: how the models
learn to copy a placeholder (engine/text/protect.py finds and restores the spans of what a person
types; this is the training side of the same rule).

    ("Tom was born in 1987.", "Tom出生于1987年。")  →  ("⟦W2⟧ was born in ⟦N4⟧.", "⟦W2⟧出生于⟦N4⟧年。")
"""

from __future__ import annotations

import functools
import random
import re

from engine.text.protect import KINDS, MAX_PER_KIND, TOKEN, WORD_CHAR, Span, spaced


def protect_pair(source: str, target: str, chinese_source: bool, names: dict[str, str], rng: random.Random,
                 name_share: float = 0.3) -> tuple[str, str]:
    """A training pair with the spans that stand on both sides replaced by the same placeholder:
    numbers, Latin words the Chinese side kept as they are (Tom游泳。/ Tom swims.), and with
    probability `name_share` each name of `names` (English → Chinese: Tom → 汤姆) whose two forms
    are on their sides. Placeholder numbers are drawn at random (in increasing order), so every
    placeholder is seen in training, not only ⟦W1⟧."""
    english, chinese = (target, source) if chinese_source else (source, target)
    spans_en, spans_zh = [], []
    for match in TOKEN.finditer(english):
        word = match.group()
        found = find_word(chinese, word) if match.lastgroup in ("number", "word") else chinese.find(word)
        if found >= 0 and all(found >= b or found + len(word) <= a for a, b, _ in spans_zh):
            kind = "N" if match.lastgroup == "number" else "W"
            spans_en.append((match.start(), match.end(), kind))
            spans_zh.append((found, found + len(word), kind))
    draws = random_draws(rng, len(names))
    for i, (name, translated) in enumerate(names.items()):
        if name not in english or draws(i) >= name_share:  # (a name not in the text cannot match: no regex run)
            continue
        for match in whole_word(name).finditer(english):
            found = chinese.find(translated)
            overlaps = any(a < match.end() and match.start() < b for a, b, _ in spans_en) or any(
                a < found + len(translated) and found < b for a, b, _ in spans_zh
            )
            if found >= 0 and not overlaps:
                spans_en.append((match.start(), match.end(), "W"))
                spans_zh.append((found, found + len(translated), "W"))
            break
    if not spans_en:
        return source, target
    numbers = {kind: sorted(rng.sample(range(1, MAX_PER_KIND + 1), min(MAX_PER_KIND, sum(k == kind for *_, k in spans_en)))) for kind in KINDS}
    order = sorted(range(len(spans_en)), key=lambda i: spans_en[i][0])[: 2 * MAX_PER_KIND]
    labels, counts = {}, {kind: 0 for kind in KINDS}
    for i in order:  # placeholder numbers follow the English order on both sides
        kind = spans_en[i][2]
        if counts[kind] < MAX_PER_KIND:
            labels[i] = f"⟦{kind}{numbers[kind][counts[kind]]}⟧"
            counts[kind] += 1
    english = _replace(english, [(*spans_en[i][:2], labels[i]) for i in labels])
    chinese = _replace(chinese, [(*spans_zh[i][:2], labels[i]) for i in labels])
    return (chinese, english) if chinese_source else (english, chinese)


def random_draws(rng: random.Random, count: int):
    """`draw(i)`: the i-th of `count` values that `count` calls of `rng.random()` would give, with
    `rng` left where those calls would leave it, from one call that takes the generator's 2 ×
    `count` 32-bit words at once (CPython's random() makes a float of two words, a >> 5 and b >> 6;
    getrandbits(64 n) gives the same words, the first as the lowest bits). A pair reads only the
    draws of the names it holds, instead of a Python call per name and pair (1M pairs × every
    name). tests/test_preparation.py checks the values and the generator's state against random()."""
    bits = rng.getrandbits(64 * count) if count else 0

    def draw(i: int) -> float:
        words = bits >> (64 * i)
        return (((words & 0xFFFFFFFF) >> 5) * 67108864.0 + (((words >> 32) & 0xFFFFFFFF) >> 6)) * (1.0 / 9007199254740992.0)

    return draw


@functools.lru_cache(maxsize=1024)
def whole_word(word: str) -> re.Pattern:
    """`word` as a whole word (`\\bTom\\b`), compiled once (protect_pair and the name lexicon look
    for each name in every pair)."""
    return re.compile(rf"\b{re.escape(word)}\b")


def find_word(text: str, word: str) -> int:
    """Where `word` stands in `text` as a whole word or number (not inside a longer one)."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if not (start and WORD_CHAR.match(text[start - 1])) and not (end < len(text) and WORD_CHAR.match(text[end])):
            return start
        start = text.find(word, start + 1)
    return -1


def _replace(text: str, replacements: list[tuple[int, int, str]]) -> str:
    for start, end, placeholder in sorted(replacements, reverse=True):
        span = Span(start, end, placeholder[1], "")
        text = text[:start] + spaced(text, span, placeholder) + text[end:]
    return text
