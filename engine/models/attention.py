"""The attention layers of the recurrent model (registered, serialisable): Luong and Bahdanau
scores, and the two memories that make attention align (word windows)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from engine.models.base import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class LuongAttention(layers.Layer):
    """Multiplicative ("general") attention: score(h_t, h_s) = h_t · W h_s (Luong et al., 2015).

    scaled: divide the scores by √U (as the Transformer does). Unscaled dot products of 256-wide
    vectors are large from the first steps, the softmax saturates on whichever position wins
    early (the sentence end, whose encoder output summarises the whole sentence), and the
    gradient that would move it elsewhere vanishes.
    """

    def __init__(self, units: int, scaled: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the query's mask passes through
        self.units, self.scaled = units, scaled
        self.key_proj = layers.Dense(units, use_bias=False, name="key_proj")

    def prepare(self, keys):
        """The query-independent part of the score, computed once per sentence: W h_s (B, S, U)."""
        projected = self.key_proj(keys)
        return projected * (1.0 / float(np.sqrt(self.units))) if self.scaled else projected

    def call(self, query, keys, key_mask, prepared=None):
        # query (B, T, U), keys (B, S, U), key_mask (B, S) → context (B, T, U), weights (B, T, S)
        prepared = self.prepare(keys) if prepared is None else prepared
        scores = ops.matmul(query, ops.transpose(prepared, (0, 2, 1)))
        return _attend(scores, keys, key_mask)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scaled": self.scaled}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BahdanauAttention(layers.Layer):
    """Additive attention: score(h_t, h_s) = vᵀ tanh(W₁ h_t + W₂ h_s) (Bahdanau et al., 2015).

    The score is applied to the decoder output as in Luong's layout, so training stays one
    parallel pass over the target (no per-step Python loop under teacher forcing).
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = units
        self.query_proj = layers.Dense(units, use_bias=False, name="query_proj")
        self.key_proj = layers.Dense(units, name="key_proj")
        self.score_proj = layers.Dense(1, use_bias=False, name="score_proj")

    def prepare(self, keys):
        """The query-independent part of the score, computed once per sentence: W₂ h_s (B, S, U)."""
        return self.key_proj(keys)

    def call(self, query, keys, key_mask, prepared=None):
        # (B, T, 1, U) + (B, 1, S, U) → tanh → (B, T, S)
        prepared = self.prepare(keys) if prepared is None else prepared
        hidden = ops.tanh(ops.expand_dims(self.query_proj(query), 2) + ops.expand_dims(prepared, 1))
        scores = ops.squeeze(self.score_proj(hidden), -1)
        return _attend(scores, keys, key_mask)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TwoMemoryAttention(layers.Layer):
    """Two scaled Luong heads over a memory of two halves laid side by side (B, S, 2U), for
    memory="both": the "sentence" head reads the encoder's outputs (each word in the light of the
    whole sentence: what translates well), the "words" head reads local word windows (each word
    with two words of context, no summary: what aligns). The context is both heads' contexts side
    by side (B, T, 2U); the weights returned are the words head's (B, T, S), the ones `/align` and
    the alignment measure show.

    Both heads run as one batched product (heads on axis 1), so a decoder step costs about as
    many operations as with one head: the step loop is bound by operations, not arithmetic."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = units
        self.sentence_key = layers.Dense(units, use_bias=False, name="sentence_key")
        self.words_key = layers.Dense(units, use_bias=False, name="words_key")

    def prepare(self, keys):
        """Once per sentence: (scaled projected keys transposed (B, 2, U, S), values (B, 2, S, U))."""
        u = self.units
        sentence, words = keys[..., :u], keys[..., u:]
        projected = ops.stack([self.sentence_key(sentence), self.words_key(words)], 1) * (1.0 / float(np.sqrt(u)))
        return ops.swapaxes(projected, -1, -2), ops.stack([sentence, words], 1)

    def call(self, query, keys, key_mask, prepared=None):
        # query (B, T, U) → scores (B, 2, T, S) → context (B, T, 2U), words-head weights (B, T, S)
        keys_t, values = self.prepare(keys) if prepared is None else prepared
        scores = ops.matmul(ops.expand_dims(query, 1), keys_t)
        mask = ops.cast(key_mask, scores.dtype)[:, None, None, :]
        weights = ops.softmax(scores + (1.0 - mask) * -1e9, axis=-1)
        context = ops.transpose(ops.matmul(weights, values), (0, 2, 1, 3))  # (B, T, 2, U)
        shape = ops.shape(context)
        return ops.reshape(context, (shape[0], shape[1], 2 * self.units)), weights[:, 1]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WordKeyedAttention(layers.Layer):
    """One scaled Luong head for memory="keyed": scores from the local word windows only (the
    memory after its first U columns: no position summarises the sentence, so the score has to
    find the word), the context read from the whole memory, encoder outputs and windows
    (B, T, U + U/2)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = units
        self.key_proj = layers.Dense(units, use_bias=False, name="key_proj")

    def prepare(self, keys):
        """Once per sentence: scaled projected word keys, transposed (B, U, S)."""
        projected = self.key_proj(keys[..., self.units :]) * (1.0 / float(np.sqrt(self.units)))
        return ops.swapaxes(projected, -1, -2)

    def call(self, query, keys, key_mask, prepared=None):
        keys_t = self.prepare(keys) if prepared is None else prepared
        return _attend(ops.matmul(query, keys_t), keys, key_mask)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _attend(scores, keys, key_mask):
    """Softmax over unmasked source positions; returns (context, weights)."""
    mask = ops.expand_dims(ops.cast(key_mask, scores.dtype), 1)  # (B, 1, S)
    weights = ops.softmax(scores + (1.0 - mask) * -1e9, axis=-1)
    return ops.matmul(weights, keys), weights
