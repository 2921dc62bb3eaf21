"""What every architecture shares: the Keras package name its layers register under, building
from a run config and loading in safe mode, the tied output layer, and the decoding interface
that engine/models/search.py needs of a model (`Decoder`)."""

from __future__ import annotations

from typing import Protocol

import keras
import tensorflow as tf
from keras import layers

from engine.models.registry import ARCHITECTURES

PACKAGE = "seq2seq"


class Decoder(Protocol):
    """What search needs of a model (engine/models/search.py). Shapes: B batch, S source length,
    V target vocabulary; memory and state are nested tensors, batch first."""

    tgt_vocab_size: int
    has_attention: bool

    def encode_memory(self, src) -> dict: ...  # src (B, S) → memory (encoder outputs, mask, …)

    def initial_state(self, memory, max_steps) -> list: ...  # the decoder's state before the first token

    def step(self, tokens, state, memory, t): ...  # tokens (B,) → logits (B, V), state, attention (B, S) or None

    def teacher_forced(self, src, tgt_in): ...  # → logits (B, T, V), attention (B, T, S) or None

    def describe(self) -> str: ...  # one line for a model card


class BuildsItself:
    """A model whose `build_all` creates every variable: Keras rebuilds it that way on loading."""

    def get_build_config(self):
        return {"build_all": True}

    def build_from_config(self, config):
        self.build_all()


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedOutput(layers.Layer):
    """Logits from the target embedding's own matrix (transposed) plus a bias: the output layer
    shares the V × D table with the decoder's input (Press & Wolf, 2017), a third fewer weights."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.bias = self.add_weight(shape=(vocab_size,), initializer="zeros", name="bias")

    def call(self, x, table):
        # x (…, D) is flattened to (N, D) first: one (N, D) × (D, V) product. On (B, T, D) the
        # table would be broadcast over the batch, and its gradient computed as B products
        # summed afterwards (a fifth of a training step at batch 64).
        flat = tf.reshape(x, (-1, tf.shape(x)[-1]))
        logits = tf.matmul(flat, table, transpose_b=True) + self.bias
        return tf.reshape(logits, tf.concat([tf.shape(x)[:-1], [self.vocab_size]], 0))

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


def build_model(config, src_vocab_size: int, tgt_vocab_size: int) -> keras.Model:
    """The model of `config.arch` (see engine/models/registry.py), built, taking the config whole."""
    kind = ARCHITECTURES.load(config.arch)
    model = kind(src_vocab_size, tgt_vocab_size, config.model_settings(), name="seq2seq" if config.arch == "rnn" else config.arch)
    model.build_all()
    return model


def load_model(path) -> keras.Model:
    """Load a `.keras` file in safe mode (no Lambda, no pickle) without its optimizer. Every
    registered architecture's module is imported first, so that its classes are known to Keras."""
    for name in ARCHITECTURES.names:
        ARCHITECTURES.load(name)
    return keras.saving.load_model(path, compile=False, safe_mode=True)
