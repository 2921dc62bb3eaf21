"""The repetition guard of the search: a scripted decoder (the decoder interface of
engine/models/search.py over a fixed table of logits) loops on purpose; the guard must stop the loop
and must not change an output that never repeats."""

import numpy as np
import pytest
import tensorflow as tf

from engine.data.vocab import BOS, EOS
from engine.models import search

VOCAB = 12


class ScriptedDecoder:
    """Decodes by a table: after token a it prefers `script[a]`, then the other tokens in order of
    `ranking` (all batch rows alike). Its state is the previous token."""

    tgt_vocab_size = VOCAB

    def __init__(self, script: dict[int, int]):
        logits = np.full((VOCAB, VOCAB), -5.0, np.float32)
        for token in range(VOCAB):
            logits[token, 4:] = -np.arange(VOCAB - 4, dtype=np.float32) * 0.1  # a fallback order: 4, 5, 6, …
            logits[token, EOS] = -3.0
        for before, after in script.items():
            logits[before, after] = 5.0
        self.table = tf.constant(logits)

    def encode_memory(self, src):
        return {"src": src}

    def initial_state(self, memory, max_steps):
        return [tf.zeros([tf.shape(memory["src"])[0]], tf.int32)]

    def step(self, tokens, state, memory, t):
        return tf.gather(self.table, tokens), [tokens], None


def greedy(decoder, no_repeat, max_steps=30, ratio=0.0, source_length=3):
    src = tf.ones([1, source_length], tf.int32) * 5
    ids, _, length = search.greedy(decoder, src, max_steps, tf.zeros([VOCAB]), no_repeat, ratio, 2)
    return [int(i) for i in ids.numpy()[0, : int(length[0])]]


def beam(decoder, no_repeat, k=3, max_steps=30):
    src = tf.ones([1, 3], tf.int32) * 5
    ids, scores, length = search.beam_search(decoder, src, k, max_steps, tf.zeros([VOCAB]), no_repeat, 0.0, 0)
    best = int(np.argmax(scores.numpy()[0]))
    return [int(i) for i in ids.numpy()[0, best, : int(length[0, best])]]


LOOP = {BOS: 6, 6: 7, 7: 8, 8: 6}  # 6 7 8 6 7 8 6 7 8 … never EOS
STRAIGHT = {BOS: 6, 6: 7, 7: 8, 8: 9, 9: 10, 10: EOS}  # 6 7 8 9 10 EOS


def has_repeat(ids, n):
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(grams) != len(set(grams))


def test_without_the_guard_the_scripted_decoder_loops():
    assert greedy(ScriptedDecoder(LOOP), no_repeat=0)[:9] == [6, 7, 8] * 3


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_guard_never_lets_an_ngram_repeat(n):
    greedy_out = greedy(ScriptedDecoder(LOOP), no_repeat=n)
    beam_out = beam(ScriptedDecoder(LOOP), no_repeat=n)
    assert not has_repeat([t for t in greedy_out if t != EOS], n), greedy_out
    assert not has_repeat([t for t in beam_out if t != EOS], n), beam_out


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_guard_never_changes_an_output_that_does_not_repeat(n):
    decoder = ScriptedDecoder(STRAIGHT)
    assert greedy(decoder, no_repeat=n) == greedy(decoder, no_repeat=0) == [6, 7, 8, 9, 10, EOS]
    assert beam(decoder, no_repeat=n) == beam(decoder, no_repeat=0) == [6, 7, 8, 9, 10, EOS]


def test_the_output_ends_at_its_length_bound():
    # ratio 2 × 3 source tokens + 2 = 8 tokens at most, the last of them EOS
    out = greedy(ScriptedDecoder(LOOP), no_repeat=0, ratio=2.0, source_length=3)
    assert len(out) == 8 and out[-1] == EOS


# ----------------------------------------------------------------------------------------------
# Echoes around a carried span (engine/decoding/echo.py): the guard above cannot block them


def candidates(*scored):
    from engine.decoding.translation import Hypothesis

    return [Hypothesis(text, score, score, [], []) for text, score in scored]


def test_a_phrase_said_again_right_after_a_placeholder_is_an_echo():
    from engine.decoding.echo import echoes

    assert echoes("我每天写⟦W1⟧每天。")
    assert echoes("我每天写⟦W1⟧每天写。")
    assert echoes("I see ⟦W1⟧ every day ⟦N1⟧ every day.")
    assert echoes("汤姆每天都听⟦W1⟧听。")  # one token, and the sentence ends
    assert not echoes("我在⟦W1⟧住，在⟦W2⟧工作。")  # one token, and the sentence goes on: too little to tell
    assert not echoes("温度下了⟦N1⟧度。")  # one character seen somewhere before (温度) is no echo
    assert not echoes("我每天写⟦W1⟧。")
    assert not echoes("我买了一个⟦W1⟧和一个⟦W2⟧。")  # a word before both spans is no echo
    assert not echoes("每天每天写作业。")  # repetition without a span is the guard's, not this rule's
    assert not echoes("⟦W1⟧⟦W2⟧")


def test_the_best_candidate_without_an_echo_wins_only_within_the_margin():
    from engine.decoding.echo import MARGIN, without_echo

    hyps = candidates(("我每天写⟦W1⟧每天。", -0.06), ("我每天写⟦W1⟧每天写。", -0.08), ("我每天写⟦W1⟧。", -0.06 - MARGIN / 2))
    assert [h.text for h in without_echo(hyps)] == ["我每天写⟦W1⟧。", "我每天写⟦W1⟧每天。", "我每天写⟦W1⟧每天写。"]
    far = candidates(("我每天写⟦W1⟧每天。", -0.06), ("我写⟦W1⟧。", -0.06 - 2 * MARGIN))
    assert without_echo(far) == far  # a much less likely candidate is a worse translation: the best stays
    clean = candidates(("我写⟦W1⟧。", -0.1), ("我每天写⟦W1⟧每天。", -0.05))
    assert without_echo(clean) == clean and without_echo([]) == []
