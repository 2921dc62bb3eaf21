"""A Transformer encoder–decoder (Vaswani et al., 2017) in the pre-norm layout (each block reads
a layer-normalised copy of the stream and adds its output back; trains without a long warm-up).

Shapes: B batch, S source length, T target length, D units (the model width), H heads,
d = D / H per head, V target vocabulary, M the decoder's cache length (the most output steps).

The decoding interface (engine/models/search.py) is implemented with a key/value cache: the decoder's
self-attention keeps the keys and values of every position written so far in (B, H, M, d)
tensors, so one step computes one position; the cross-attention's keys and values of the source
are computed once per sentence, in `encode_memory`. Attention weights for `/align` and the
alignment measure are the last decoder layer's cross-attention, averaged over heads.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from engine.data.vocab import BOS, PAD
from engine.models.base import PACKAGE, BuildsItself, TiedOutput
from engine.models.settings import TransformerSettings, settings_of

MAX_LEARNED_POSITIONS = 256  # rows of a learned position table; later positions share the last row
NEG_INF = -1e9


def sinusoids(positions, dim: int):
    """positions (T,) → (T, dim): sin and cos of the position at dim/2 geometric frequencies."""
    half = dim // 2
    inverse = tf.exp(-np.log(10000.0) * tf.range(half, dtype=tf.float32) / half)
    angles = tf.cast(positions, tf.float32)[:, None] * inverse[None]
    return tf.concat([tf.sin(angles), tf.cos(angles)], -1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenEmbedding(layers.Layer):
    """ids → embedding × √D + position (sinusoidal: computed; learned: a table)."""

    def __init__(self, vocab_size: int, units: int, positions: str = "sinusoidal", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.units, self.positions = vocab_size, units, positions
        self.tokens = layers.Embedding(vocab_size, units, name="tokens")
        self.table = layers.Embedding(MAX_LEARNED_POSITIONS, units, name="positions") if positions == "learned" else None

    def call(self, ids, start=0):
        """ids (B, T) whose first position is `start` → (B, T, D)."""
        steps = tf.range(tf.shape(ids)[1]) + start
        if self.table is not None:
            where = self.table(tf.minimum(steps, MAX_LEARNED_POSITIONS - 1))
        else:
            where = sinusoids(steps, self.units)
        return self.tokens(ids) * float(np.sqrt(self.units)) + where[None]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "units": self.units, "positions": self.positions}


@keras.saving.register_keras_serializable(package=PACKAGE)
class HeadsAttention(layers.Layer):
    """Multi-head scaled dot-product attention with separate steps for projecting keys and
    values (cacheable) and attending, so the decoder can reuse them across steps."""

    def __init__(self, units: int, heads: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.heads, self.dropout = units, heads, dropout
        self.query = layers.Dense(units, name="query")
        self.key = layers.Dense(units, name="key")
        self.value = layers.Dense(units, name="value")
        self.out = layers.Dense(units, name="out")
        self.drop = layers.Dropout(dropout)

    def _split(self, x):
        """(B, T, D) → (B, H, T, d)."""
        shape = tf.shape(x)
        x = tf.reshape(x, [shape[0], shape[1], self.heads, self.units // self.heads])
        return tf.transpose(x, (0, 2, 1, 3))

    def keys_values(self, x):
        """x (B, S, D) → keys, values (B, H, S, d)."""
        return self._split(self.key(x)), self._split(self.value(x))

    def attend(self, x, keys, values, allowed, training=False):
        """x (B, T, D) attends to keys/values (B, H, S, d) where allowed (B or 1, 1, T or 1, S)
        is true → output (B, T, D), weights (B, H, T, S)."""
        queries = self._split(self.query(x)) * (1.0 / float(np.sqrt(self.units // self.heads)))
        scores = tf.matmul(queries, keys, transpose_b=True)
        weights = tf.nn.softmax(tf.where(allowed, scores, NEG_INF), -1)
        mixed = tf.matmul(self.drop(weights, training=training), values)  # (B, H, T, d)
        shape = tf.shape(mixed)
        merged = tf.reshape(tf.transpose(mixed, (0, 2, 1, 3)), [shape[0], shape[2], self.units])
        return self.out(merged), weights

    def call(self, x, memory, allowed, training=False):
        keys, values = self.keys_values(memory)
        return self.attend(x, keys, values, allowed, training)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "heads": self.heads, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeedForward(layers.Layer):
    """Position-wise D → ff_dim (ReLU) → D."""

    def __init__(self, units: int, ff_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.ff_dim, self.dropout = units, ff_dim, dropout
        self.inner = layers.Dense(ff_dim, activation="relu", name="inner")
        self.outer = layers.Dense(units, name="outer")
        self.drop = layers.Dropout(dropout)

    def call(self, x, training=False):
        return self.outer(self.drop(self.inner(x), training=training))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class EncoderBlock(layers.Layer):
    def __init__(self, units: int, heads: int, ff_dim: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.units, self.heads, self.ff_dim, self.dropout = units, heads, ff_dim, dropout
        self.norm_attention = layers.LayerNormalization(epsilon=1e-6, name="norm_attention")
        self.attention = HeadsAttention(units, heads, dropout, name="attention")
        self.norm_ff = layers.LayerNormalization(epsilon=1e-6, name="norm_ff")
        self.ff = FeedForward(units, ff_dim, dropout, name="ff")
        self.drop = layers.Dropout(dropout)

    def call(self, x, allowed, training=False):
        """x (B, S, D), allowed (B, 1, 1, S): the source positions to attend to → (B, S, D)."""
        h = self.norm_attention(x)
        x = x + self.drop(self.attention(h, h, allowed, training=training)[0], training=training)
        return x + self.drop(self.ff(self.norm_ff(x), training=training), training=training)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "heads": self.heads, "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DecoderBlock(layers.Layer):
    def __init__(self, units: int, heads: int, ff_dim: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.units, self.heads, self.ff_dim, self.dropout = units, heads, ff_dim, dropout
        self.norm_self = layers.LayerNormalization(epsilon=1e-6, name="norm_self")
        self.self_attention = HeadsAttention(units, heads, dropout, name="self_attention")
        self.norm_cross = layers.LayerNormalization(epsilon=1e-6, name="norm_cross")
        self.cross_attention = HeadsAttention(units, heads, dropout, name="cross_attention")
        self.norm_ff = layers.LayerNormalization(epsilon=1e-6, name="norm_ff")
        self.ff = FeedForward(units, ff_dim, dropout, name="ff")
        self.drop = layers.Dropout(dropout)

    def build(self, *shapes):
        self.built = True  # its layers build on their first call (step() never goes through __call__)

    def _rest(self, x, cross_keys, cross_values, source_mask, training):
        """Cross-attention and feed-forward: x (B, T, D) → (B, T, D), weights (B, H, T, S)."""
        context, weights = self.cross_attention.attend(self.norm_cross(x), cross_keys, cross_values, source_mask, training)
        x = x + self.drop(context, training=training)
        return x + self.drop(self.ff(self.norm_ff(x), training=training), training=training), weights

    def call(self, x, cross_keys, cross_values, source_mask, training=False):
        """All target positions at once (teacher forcing), each seeing itself and earlier ones."""
        steps = tf.shape(x)[1]
        causal = tf.range(steps)[None, :] <= tf.range(steps)[:, None]  # (T, T): key ≤ query
        h = self.norm_self(x)
        x = x + self.drop(self.self_attention(h, h, causal[None, None], training=training)[0], training=training)
        return self._rest(x, cross_keys, cross_values, source_mask, training)

    def step(self, x, cache_keys, cache_values, t, cross_keys, cross_values, source_mask):
        """One position t: x (B, 1, D), caches (B, H, M, d) → (B, 1, D), new caches, weights."""
        h = self.norm_self(x)
        keys, values = self.self_attention.keys_values(h)  # (B, H, 1, d)
        slot = tf.one_hot(t, tf.shape(cache_keys)[2], dtype=keys.dtype)[None, None, :, None]  # (1, 1, M, 1)
        cache_keys = cache_keys + slot * keys  # the slot of step t is still zero: adding writes it
        cache_values = cache_values + slot * values
        seen = (tf.range(tf.shape(cache_keys)[2]) <= t)[None, None, None]  # (1, 1, 1, M)
        x = x + self.self_attention.attend(h, cache_keys, cache_values, seen)[0]
        x, weights = self._rest(x, cross_keys, cross_values, source_mask, False)
        return x, cache_keys, cache_values, weights

    def get_config(self):
        return {**super().get_config(), "units": self.units, "heads": self.heads, "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Transformer(BuildsItself, keras.Model):
    """settings: TransformerSettings, or a dict of them (a run config's, or a saved model's)."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, settings: TransformerSettings | dict, **kwargs):
        super().__init__(**kwargs)
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.settings = settings if isinstance(settings, TransformerSettings) else settings_of("transformer", settings)
        units, heads, ff_dim, dropout = self.settings.units, self.settings.heads, self.settings.ff_dim, self.settings.dropout
        self.units, self.heads, self.num_layers = units, heads, self.settings.layers
        self.src_embed = TokenEmbedding(src_vocab_size, units, self.settings.positions, name="src_embed")
        self.tgt_embed = TokenEmbedding(tgt_vocab_size, units, self.settings.positions, name="tgt_embed")
        self.drop = layers.Dropout(dropout)
        self.encoder_blocks = [EncoderBlock(units, heads, ff_dim, dropout, name=f"encoder_{i}") for i in range(self.num_layers)]
        self.encoder_norm = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")
        self.decoder_blocks = [DecoderBlock(units, heads, ff_dim, dropout, name=f"decoder_{i}") for i in range(self.num_layers)]
        self.decoder_norm = layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")
        self.project = TiedOutput(tgt_vocab_size, name="project")

    has_attention = True

    def describe(self) -> str:
        """One line for a model card (the chat's /info)."""
        s = self.settings
        return (f"Transformer, {s.layers} + {s.layers} pre-norm blocks {s.units} wide, {s.heads} heads, "
                f"feed-forward {s.ff_dim}, {s.positions} positions, tied output embedding")

    # ------------------------------------------------------------------ training pass
    def _encode(self, src, training):
        """src (B, S) → encoder output (B, S, D), its mask (B, 1, 1, S)."""
        mask = tf.not_equal(src, PAD)[:, None, None, :]
        x = self.drop(self.src_embed(src), training=training)
        for block in self.encoder_blocks:
            x = block(x, mask, training=training)
        return self.encoder_norm(x), mask

    def _logits(self, x):
        return self.project(self.decoder_norm(x), self.tgt_embed.tokens.embeddings)

    def teacher_forced(self, src, tgt_in, training=False):
        """src (B, S), tgt_in (B, T) → logits (B, T, V), attention weights (B, T, S)."""
        encoded, mask = self._encode(src, training)
        x = self.drop(self.tgt_embed(tgt_in), training=training)
        weights = None
        for block in self.decoder_blocks:
            keys, values = block.cross_attention.keys_values(encoded)
            x, weights = block(x, keys, values, mask, training=training)
        return self._logits(x), tf.reduce_mean(weights, 1)

    def call(self, inputs, training=False):
        src, tgt_in = inputs
        return self.teacher_forced(src, tgt_in, training)[0]

    # ------------------------------------------------------------------ decoding interface
    def encode_memory(self, src):
        """src (B, S) → memory: the source mask and each decoder layer's cross-attention keys and
        values (B, H, S, d), computed once per sentence."""
        encoded, mask = self._encode(src, False)
        return {"mask": mask, "cross": [block.cross_attention.keys_values(encoded) for block in self.decoder_blocks]}

    def initial_state(self, memory, max_steps):
        """Empty self-attention caches: per layer keys and values (B, H, max_steps, d)."""
        batch = tf.shape(memory["mask"])[0]
        empty = tf.zeros([batch, self.heads, max_steps, self.units // self.heads], self.compute_dtype)
        return [empty] * (2 * self.num_layers)

    def step(self, tokens, state, memory, t):
        """tokens (B,) at position t → logits (B, V), new caches, attention weights (B, S)."""
        x = self.tgt_embed(tokens[:, None], start=t)
        new_state, weights = [], None
        for i, block in enumerate(self.decoder_blocks):
            keys, values = memory["cross"][i]
            x, cache_keys, cache_values, weights = block.step(x, state[2 * i], state[2 * i + 1], t, keys, values, memory["mask"])
            new_state += [cache_keys, cache_values]
        return self._logits(x)[:, 0], new_state, tf.reduce_mean(weights, 1)[:, 0]

    # ------------------------------------------------------------------ building and saving
    def build_all(self):
        src = np.full((1, 2), BOS + 2, "int32")
        tgt = np.full((1, 2), BOS, "int32")
        self.teacher_forced(src, tgt)
        memory = self.encode_memory(src)
        self.step(tgt[:, 0], self.initial_state(memory, 2), memory, 0)
        self.built = True

    def get_config(self):
        return {
            **super().get_config(), "src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
            "settings": dataclasses.asdict(self.settings),
        }
