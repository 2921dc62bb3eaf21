"""Echoes around a carried span: the beam's best candidate sometimes says a phrase again right
after a placeholder (`I write Python every day.` → `我每天写⟦W1⟧每天。`): the decoder, having
copied a token it rarely saw, starts the sentence's content over. The repetition guard
(engine/models/search.py) cannot block it without blocking real repeats: it forbids repeated
4-grams only, and 每天 is two characters.

The rule here is tied to the placeholder, not to repetition in general (a general rule on
2-character repeats cost valid BLEU: the references repeat too): a candidate *echoes* when the
first tokens after a placeholder (two Han characters or words; or the last one before the
sentence's stop, when it also stands right before the placeholder) already occur before it. Among
the beam's candidates, the best one that does not echo is chosen if its score is within `MARGIN`
of the best's; otherwise the best stays (a candidate far worse is a worse translation).
"""

from __future__ import annotations

import re

from engine.decoding.translation import Hypothesis
from engine.text.protect import PLACEHOLDER
from engine.text.script import HAN_CHAR

# a Han character, or a word (letters and digits): the unit an echo is counted in
TOKEN = re.compile(rf"[{HAN_CHAR}]|[^\W\d_{HAN_CHAR}][^\W_{HAN_CHAR}]*")
PAUSE = re.compile(rf"[^\w\s{HAN_CHAR}]")  # punctuation, or a placeholder's ⟦: where what follows a span ends
# the score (log-probability per token, see Hypothesis.score) a candidate without an echo may
# lose against the best and still be chosen. On the en→zh valid split no line changes at any
# margin from 0.05 to 0.5; on 16 sentences written to end with a carried word, 0.05 to 0.5 all
# mend the same two echoes and change nothing else (see the commit's message)
MARGIN = 0.1


def echoes(text: str) -> bool:
    """Whether the first two tokens that follow a placeholder of `text` (a hypothesis as the model
    wrote it, placeholders in place), up to the next punctuation or placeholder, occur in that
    order before it; or the one token there, where only punctuation follows it, is the token
    right before it too (汤姆每天都听⟦W1⟧听。)."""
    for match in PLACEHOLDER.finditer(text):
        rest = text[match.end():]
        stop = PAUSE.search(rest)
        run = TOKEN.findall(rest[: stop.start() if stop else len(rest)])
        if not run:
            continue
        before = TOKEN.findall(PLACEHOLDER.sub(" ", text[: match.start()]))
        if len(run) >= 2 and any(before[i: i + 2] == run[:2] for i in range(len(before) - 1)):
            return True
        at_end = stop is None or not TOKEN.search(PLACEHOLDER.sub(" ", rest[stop.start():]))
        if len(run) == 1 and at_end and before[-1:] == run:  # (one character anywhere before is no evidence: 温度…-5度)
            return True
    return False


def without_echo(hyps: list[Hypothesis], margin: float = MARGIN) -> list[Hypothesis]:
    """`hyps` (best first) with the best candidate that does not echo moved to the front, when
    the best echoes and that candidate's score is within `margin` of it."""
    if not hyps or not echoes(hyps[0].text):
        return hyps
    for i, hypothesis in enumerate(hyps[1:], start=1):
        if hypothesis.score < hyps[0].score - margin:
            break
        if not echoes(hypothesis.text):
            return [hypothesis, *hyps[:i], *hyps[i + 1:]]
    return hyps
