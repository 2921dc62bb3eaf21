"""What a translation is: the best hypothesis of a line with its scores, tokens, n-best list,
attention and notes, and for a line of several sentences each sentence's own translation. Plain
Python (no TensorFlow): the tools and their tests handle these without loading a model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
