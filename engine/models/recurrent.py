"""The encoder–decoder model: embeddings → LSTM/GRU encoder → decoder from its final states →
(optional attention) → logits over the target vocabulary.

Shapes: B batch, S source length, T target length, E embed_dim, U units, V target vocabulary.

One registered, serialisable `Seq2Seq` model holds every layer. Training calls it on
(source ids, decoder input ids); inference uses `encode` once and `decode_step` per output token,
both of which run the very same layers (the RNN layers' cells for single steps), so the trained
weights serve training, the tutorial-style reference loop and the compiled translator alike.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from engine.data.vocab import BOS, PAD
from engine.models.attention import LuongAttention, TwoMemoryAttention, WordKeyedAttention
from engine.models.base import PACKAGE, BuildsItself, TiedOutput
from engine.models.registry import ATTENTIONS
from engine.models.settings import RecurrentSettings, settings_of

RECURRENT_FIELDS = {f.name for f in dataclasses.fields(RecurrentSettings)}


def _recurrent_layer(cell: str, units: int, name: str):
    kind = layers.LSTM if cell == "lstm" else layers.GRU
    return kind(units, return_sequences=True, return_state=True, name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Seq2Seq(BuildsItself, keras.Model):
    """settings: RecurrentSettings, or a dict of them (a run config's, or one saved by an older
    version, which named each setting as a keyword of its own: those load too)."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, settings: RecurrentSettings | dict | None = None, **kwargs):
        legacy = {k: kwargs.pop(k) for k in list(kwargs) if k in RECURRENT_FIELDS or k == "num_layers"}
        if not isinstance(settings, RecurrentSettings):
            settings = settings_of("rnn", {**legacy, **(settings or {})})
        self.settings = settings
        cell, num_layers, units, embed_dim, dropout = settings.cell, settings.layers, settings.units, settings.embed_dim, settings.dropout
        attention, bidirectional, teacher_forcing = settings.attention, settings.bidirectional, settings.teacher_forcing
        input_feeding, decoder_init, memory, tied = settings.input_feeding, settings.decoder_init, settings.memory, settings.tie_embeddings
        super().__init__(**kwargs)
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.cell_kind, self.num_layers, self.units = cell, num_layers, units
        self.embed_dim, self.dropout_rate = embed_dim, dropout
        self.attention_kind, self.bidirectional = attention, bidirectional
        self.teacher_forcing = teacher_forcing
        # Input feeding (Luong et al., 2015, §3.3): the decoder reads [embedding of y_{t-1};
        # attentional vector of step t-1], so it knows where it has already looked, and the
        # attention sits inside the recurrence instead of being a read-out on top of it.
        self.input_feeding = input_feeding and attention != "none"
        # "encoder": the decoder starts from the encoder's final states (the tutorial);
        # "zeros": it starts empty and learns the source only through attention.
        self.decoder_init = decoder_init if attention != "none" else "encoder"
        # What the attention reads: "encoder", the encoder's outputs (whose first and last
        # positions summarise the whole sentence), "local", words with a little context, or
        # "both", one head over each (TwoMemoryAttention).
        self.memory = memory if attention != "none" else "encoder"
        # Word windows are as wide as the encoder's outputs, except for "keyed", where they only
        # key the scores (half as wide is plenty, and keeps the shipped model under 10 MB).
        local_units = units // 2 if self.memory == "keyed" else units
        self.local_convs = [
            layers.Conv1D(local_units, 3, padding="same", activation="tanh", name=f"local_memory_{i}") for i in range(2)
        ] if self.memory in ("local", "both", "keyed") else []
        self.states_per_layer = 2 if cell == "lstm" else 1  # LSTM: [h, c]; GRU: [h]

        self.src_embed = layers.Embedding(src_vocab_size, embed_dim, name="src_embed")
        self.tgt_embed = layers.Embedding(tgt_vocab_size, embed_dim, name="tgt_embed")
        self.encoders = [
            layers.Bidirectional(_recurrent_layer(cell, units // 2, f"encoder_{i}_rnn"), name=f"encoder_{i}")
            if bidirectional
            else _recurrent_layer(cell, units, f"encoder_{i}")
            for i in range(num_layers)
        ]
        self.decoders = [_recurrent_layer(cell, units, f"decoder_{i}") for i in range(num_layers)]
        self.drop = layers.Dropout(dropout, name="dropout")
        if attention == "none":
            self.attention_layer = self.combine = None
        else:
            if self.memory == "both":  # (Luong only: config validation says so)
                self.attention_layer = TwoMemoryAttention(units, name="attention")
            elif self.memory == "keyed":
                self.attention_layer = WordKeyedAttention(units, name="attention")
            else:  # models with input feeding are the new layout; their Luong scores are scaled too
                kind = ATTENTIONS.load(attention)
                scaled = {"scaled": self.input_feeding} if kind is LuongAttention else {}
                self.attention_layer = kind(units, name="attention", **scaled)
            self.combine = layers.Dense(units, activation="tanh", name="attention_combine")
        # Tied: the decoder's output is brought down to the embedding's width and scored against
        # the target embedding's own table (Press & Wolf, 2017): V × (U + 1) fewer weights.
        self.tie_embeddings = tied
        self.project_down = layers.Dense(embed_dim, name="project_down") if tied else None
        self.project = TiedOutput(tgt_vocab_size, name="project") if tied else layers.Dense(tgt_vocab_size, name="project")

    # ------------------------------------------------------------------ encoder
    def encode(self, src, training=False):
        """src (B, S) ids → memory (B, S, U; more for "both" and "keyed"), mask (B, S), states: flat list, per layer [h, c] or [h]."""
        mask = ops.not_equal(src, PAD)
        x = self.drop(self.src_embed(src), training=training)
        states = []
        for i, encoder in enumerate(self.encoders):
            x, *layer_states = encoder(x, mask=mask, training=training)
            if self.bidirectional:  # [fwd h, (fwd c), bwd h, (bwd c)] → concatenated per state
                half = len(layer_states) // 2
                layer_states = [ops.concatenate(pair, -1) for pair in zip(layer_states[:half], layer_states[half:])]
            states.extend(layer_states)
            if i < self.num_layers - 1:
                x = self.drop(x, training=training)
        if self.decoder_init == "zeros":
            states = [ops.zeros_like(s) for s in states]
        if self.memory == "local":
            x = self._local_memory(src, mask, training)
        elif self.memory in ("both", "keyed"):  # (B, S, 2U or U + U/2): encoder outputs, then word windows
            x = ops.concatenate([x, self._local_memory(src, mask, training)], -1)
        if self.input_feeding:  # the last state is the previous attentional vector (B, U)
            states.append(ops.zeros_like(x[:, 0, : self.units]))  # x: the memory (B, S, U or 2U)
        return x, mask, states

    def _local_memory(self, src, mask, training):
        """What the attention reads when memory="local": each source word with a few words of
        context on either side (two width-3 convolutions over the embeddings: 5 words), never a
        summary of the whole sentence. Padding is zeroed first, so it reads as the sentence edge."""
        keep = ops.expand_dims(ops.cast(mask, "float32"), -1)  # (B, S, 1)
        x = self.drop(self.src_embed(src), training=training) * keep
        for conv in self.local_convs:
            x = conv(x) * keep
        return x

    def layer_states(self, states, i):
        n = self.states_per_layer
        return list(states[i * n : (i + 1) * n])

    # ------------------------------------------------------------------ decoder
    def _output(self, x, enc_out, enc_mask, training):
        """Decoder outputs (B, T, U) → logits (B, T, V) and attention weights (B, T, S) or None."""
        weights = None
        if self.attention_layer is not None:
            x, weights = self._attentional(x, enc_out, enc_mask)
        return self._logits(self.drop(x, training=training)), weights

    def _logits(self, x):
        """Decoder features (…, U) → logits (…, V)."""
        if self.tie_embeddings:
            return self.project(self.project_down(x), self.tgt_embed.embeddings)
        return self.project(x)

    def _attentional(self, x, enc_out, enc_mask, prepared=None):
        """h_t (B, T, U) → attentional vector tanh(W_c [h_t; c_t]) (B, T, U), weights (B, T, S)."""
        context, weights = self.attention_layer(x, enc_out, enc_mask, prepared=prepared)
        return self.combine(ops.concatenate([x, context], -1)), weights

    def _cells(self, x, states, training):
        """One step through the stacked decoder cells: x (B, D) → output (B, U), new flat states."""
        new_states = []
        for i, decoder in enumerate(self.decoders):
            x, layer_states = decoder.cell(x, self.layer_states(states, i), training=training)
            new_states.extend(layer_states)
            if i < self.num_layers - 1:
                x = self.drop(x, training=training)
        return x, new_states

    def decode_sequence(self, tgt_in, enc_out, enc_mask, states, training=False):
        """Teacher forcing: all target steps in one pass. tgt_in (B, T) → logits (B, T, V), weights."""
        if self.input_feeding:
            return self._decode_fed(tgt_in, enc_out, enc_mask, states, training)
        mask = ops.not_equal(tgt_in, PAD)
        x = self.drop(self.tgt_embed(tgt_in), training=training)
        for i, decoder in enumerate(self.decoders):
            x, *_ = decoder(x, initial_state=self.layer_states(states, i), mask=mask, training=training)
            if i < self.num_layers - 1:
                x = self.drop(x, training=training)
        return self._output(x, enc_out, enc_mask, training)

    def _decode_fed(self, tgt_in, enc_out, enc_mask, states, training):
        """Teacher forcing with input feeding: one loop over the target steps (each step needs the
        previous step's attentional vector). Steps past a sentence's end run on, unread: the loss
        gives them no weight."""
        embedded = ops.transpose(self.drop(self.tgt_embed(tgt_in), training=training), (1, 0, 2))  # (T, B, E)
        prepared = self.attention_layer.prepare(enc_out)  # once per batch, not per step
        steps = tf.shape(tgt_in)[1]
        # Each step reads its input from a TensorArray: the gradient of a slice embedded[t] would be
        # a whole (T, B, …) tensor of zeros per step, summed over the steps (T² work).
        inputs = tf.TensorArray(self.compute_dtype, size=steps).unstack(embedded)
        outputs = tf.TensorArray(self.compute_dtype, size=steps)
        weights = tf.TensorArray(self.compute_dtype, size=steps)

        def body(t, states, outputs, weights):
            attentional, states, step_weights = self._fed_step(inputs.read(t), states, enc_out, enc_mask, training, prepared)
            return t + 1, states, outputs.write(t, attentional), weights.write(t, step_weights)

        # maximum_iterations bounds the loop where XLA compiles it (--jit-compile): the gradient's
        # TensorArrays need a static size there.
        _, _, outputs, weights = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), list(states), outputs, weights), maximum_iterations=steps
        )
        attentional = tf.transpose(outputs.stack(), (1, 0, 2))  # (B, T, U)
        return self._logits(self.drop(attentional, training=training)), tf.transpose(weights.stack(), (1, 0, 2))

    def _fed_step(self, embedded, states, enc_out, enc_mask, training, prepared=None):
        """One input-feeding step: embedded y_{t-1} (B, E) and flat states (the last is the
        previous attentional vector) → attentional vector (B, U), new flat states, weights (B, S)."""
        x, new_states = self._cells(ops.concatenate([embedded, states[-1]], -1), states[:-1], training)
        attentional, weights = self._attentional(x[:, None], enc_out, enc_mask, prepared)
        return attentional[:, 0], [*new_states, attentional[:, 0]], weights[:, 0]

    def decode_step(self, tokens, states, enc_out, enc_mask, training=False):
        """One step: tokens (B,) → logits (B, V), new flat states, attention weights (B, S) or None."""
        x = self.drop(self.tgt_embed(tokens), training=training)
        if self.input_feeding:
            attentional, new_states, weights = self._fed_step(x, states, enc_out, enc_mask, training)
            return self._logits(self.drop(attentional, training=training)), new_states, weights
        x, new_states = self._cells(x, states, training)
        logits, weights = self._output(ops.expand_dims(x, 1), enc_out, enc_mask, training)
        return logits[:, 0], new_states, (None if weights is None else weights[:, 0])

    def _free_running(self, tgt_in, enc_out, enc_mask, states, training):
        """The tutorial's training mode without teacher forcing: step t is fed the argmax of step
        t-1 (BOS first), for as many steps as the target has. Returns logits (B, T, V)."""
        steps = tf.shape(tgt_in)[1]
        tokens = tgt_in[:, 0]
        all_logits = tf.TensorArray(self.compute_dtype, size=steps)

        def body(t, tokens, states, all_logits):
            logits, states, _ = self.decode_step(tokens, states, enc_out, enc_mask, training=training)
            next_tokens = tf.cast(tf.argmax(logits, -1), tokens.dtype)
            return t + 1, next_tokens, states, all_logits.write(t, logits)

        _, _, _, all_logits = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), tokens, list(states), all_logits)
        )
        return tf.transpose(all_logits.stack(), (1, 0, 2))

    def call(self, inputs, training=False):
        src, tgt_in = inputs
        enc_out, enc_mask, states = self.encode(src, training=training)
        if self.teacher_forcing:
            logits, _ = self.decode_sequence(tgt_in, enc_out, enc_mask, states, training=training)
            return logits
        return self._free_running(tgt_in, enc_out, enc_mask, states, training=training)

    # ------------------------------------------------------------------ decoding interface
    # (engine/models/search.py): the memory holds the encoder's outputs and final states; the state is
    # the decoder cells' states (and the previous attentional vector with input feeding).
    @property
    def has_attention(self) -> bool:
        return self.attention_layer is not None

    def describe(self) -> str:
        """One line for a model card (the chat's /info)."""
        encoder = f"{'bidirectional ' if self.bidirectional else ''}{self.cell_kind.upper()} encoder"
        attention = "no attention" if self.attention_layer is None else (
            f"{self.attention_kind} attention ({self.memory} memory{', input feeding' if self.input_feeding else ''})"
        )
        tied = ", tied output embedding" if self.tie_embeddings else ""
        return f"{self.cell_kind.upper()} {self.units}, {self.num_layers} layer(s), {encoder}, {attention}{tied}"

    def encode_memory(self, src):
        enc_out, enc_mask, states = self.encode(src)
        return {"keys": enc_out, "mask": enc_mask, "states": states}

    def initial_state(self, memory, max_steps):
        return list(memory["states"])

    def step(self, tokens, state, memory, t):
        return self.decode_step(tokens, state, memory["keys"], memory["mask"])

    def teacher_forced(self, src, tgt_in):
        """src (B, S), tgt_in (B, T) → logits (B, T, V), attention weights (B, T, S) or None."""
        enc_out, enc_mask, states = self.encode(src)
        return self.decode_sequence(tgt_in, enc_out, enc_mask, states)

    # ------------------------------------------------------------------ building and saving
    def build_all(self):
        """Create every variable (both decoder paths) with a dummy batch, so weights can load."""
        src = np.full((1, 2), BOS + 2, "int32")
        tgt = np.full((1, 2), BOS, "int32")
        enc_out, enc_mask, states = self.encode(src)
        if not self.input_feeding:  # (with input feeding both paths use the cells)
            self.decode_sequence(tgt, enc_out, enc_mask, states)
        self.decode_step(tgt[:, 0], states, enc_out, enc_mask)
        self.built = True

    def get_config(self):
        return {
            **super().get_config(), "src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
            "settings": dataclasses.asdict(self.settings),
        }


