"""What a translation is: the best hypothesis of a line with its scores, tokens, n-best list,
attention and notes, and for a line of several sentences each sentence's own translation. Plain
Python (no TensorFlow): the tools and their tests handle these without loading a model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.memory.store import Match


@dataclass
class Hypothesis:
    text: str
    score: float  # log-probability / length**alpha (length counts EOS)
    log_prob: float  # total log-probability
    ids: list[int]
    tokens: list[str]
    attention: np.ndarray | None = None  # filled on request: (len(ids) + 1, source tokens)


@dataclass
class Translation:
    source: str
    text: str
    score: float
    log_prob: float
    ids: list[int]
    tokens: list[str]
    source_tokens: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # source tokens the model never saw
    n_best: list[Hypothesis] = field(default_factory=list)
    attention: np.ndarray | None = None  # (output tokens incl. EOS, source tokens) or None
    warnings: list[str] = field(default_factory=list)
    simplified: list[tuple[str, str]] = field(default_factory=list)  # traditional → simplified read
    parts: list[Translation] = field(default_factory=list)  # a line of several sentences: each one's translation
    src_ids: list[int] = field(default_factory=list)  # what the model read (one sentence)
    # engine.memory.store.Match: exact (this is the memory's translation, not the model's) or
    # fuzzy (a similar entry offered beside the model's translation); None when memory had none
    memory: Match | None = None
    confidence: str | None = None  # low, medium or high (engine/decoding/confidence.py); None: not judged

    @property
    def from_memory(self) -> bool:
        return self.memory is not None and self.memory.exact


def passthrough(source: str, text: str, simplified) -> Translation:
    """A unit with nothing to translate (a number, a URL, a name): it is its own output `text`."""
    return Translation(source, text, 0.0, 0.0, [], [], [], [], [Hypothesis(text, 0.0, 0.0, [], [])], simplified=simplified)


def remembered(source: str, match: Match) -> Translation:
    """A line served from the translation memory (an exact match): a person's translation."""
    text = match.entry.target
    return Translation(source, text, 0.0, 0.0, [], [], [], [], [Hypothesis(text, 0.0, 0.0, [], [])], memory=match, confidence="high")


def with_memory(lines: list[str], memory, translate_lines) -> list:
    """Each line's translation: from `memory` (an engine.memory.store.MemoryView, or None) where
    it holds the line exactly, else `translate_lines(rest)`'s, with a similar entry attached as
    its `memory` (or None). Input order kept."""
    found = memory.lookup(lines) if memory is not None else [None] * len(lines)
    todo = [i for i, match in enumerate(found) if not (match and match.exact)]
    decoded = translate_lines([lines[i] for i in todo]) if todo else []
    results = [remembered(line, match) if match and match.exact else None for line, match in zip(lines, found)]
    for i, result in zip(todo, decoded):
        result.memory = found[i]
        results[i] = result
    return results


def line_translation(line: str, parts: list[Translation], warnings: list[str], join) -> Translation:
    """One line's translation from its units' (usually one sentence); `join` joins their texts."""
    simplified = list(dict.fromkeys(change for part in parts for change in part.simplified))
    if not parts:
        return Translation(line, "", 0.0, 0.0, [], [], [], [], [], None, warnings, simplified)
    if len(parts) == 1:
        result = parts[0]
        result.source, result.warnings, result.simplified = line, warnings, simplified
        return result
    joined = Hypothesis(
        join([p.text for p in parts]), sum(p.score for p in parts) / len(parts),
        sum(p.log_prob for p in parts), [i for p in parts for i in p.ids], [t for p in parts for t in p.tokens],
    )
    return Translation(
        line, joined.text, joined.score, joined.log_prob, joined.ids, joined.tokens,
        [t for p in parts for t in p.source_tokens], [w for p in parts for w in p.unknown], [joined], None,
        warnings, simplified, parts=parts,
    )
