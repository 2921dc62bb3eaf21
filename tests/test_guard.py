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
