"""The encoder–decoder model: embeddings → LSTM/GRU encoder → decoder from its final states →
(optional attention) → logits over the target vocabulary.

Shapes: B batch, S source length, T target length, E embed_dim, U units, V target vocabulary.

One registered, serialisable `Seq2Seq` model holds every layer. Training calls it on
(source ids, decoder input ids); inference uses `encode` once and `decode_step` per output token,
both of which run the very same layers (the RNN layers' cells for single steps), so the trained
weights serve training, the tutorial-style reference loop and the compiled translator alike.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from engine.registry import ARCHITECTURES, ATTENTIONS
from engine.vocab import BOS, PAD

PACKAGE = "seq2seq"


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


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedOutput(layers.Layer):
    """Logits from the target embedding's own matrix (transposed) plus a bias: the output layer
    shares the V × D table with the decoder's input (Press & Wolf, 2017), a third fewer weights."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.bias = self.add_weight(shape=(vocab_size,), initializer="zeros", name="bias")

    def call(self, x, table):
        return tf.matmul(x, table, transpose_b=True) + self.bias

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


def _attend(scores, keys, key_mask):
    """Softmax over unmasked source positions; returns (context, weights)."""
    mask = ops.expand_dims(ops.cast(key_mask, scores.dtype), 1)  # (B, 1, S)
    weights = ops.softmax(scores + (1.0 - mask) * -1e9, axis=-1)
    return ops.matmul(weights, keys), weights


def _recurrent_layer(cell: str, units: int, name: str):
    kind = layers.LSTM if cell == "lstm" else layers.GRU
    return kind(units, return_sequences=True, return_state=True, name=name)


# The model part of a RunConfig that a recurrent model reads, with the defaults of models saved
# before the model took its settings whole (their saved configs name each one, `layers` as
# `num_layers`, and still load).
RNN_SETTINGS = {
    "cell": "lstm", "layers": 1, "units": 256, "embed_dim": 128, "dropout": 0.0, "attention": "none",
    "bidirectional": False, "teacher_forcing": True, "input_feeding": False, "decoder_init": "encoder",
    "memory": "encoder", "tie_embeddings": False,
}


class BuildsItself:
    """A model whose `build_all` creates every variable: Keras rebuilds it that way on loading."""

    def get_build_config(self):
        return {"build_all": True}

    def build_from_config(self, config):
        self.build_all()


@keras.saving.register_keras_serializable(package=PACKAGE)
class Seq2Seq(BuildsItself, keras.Model):
    """settings: the model part of a RunConfig (see RNN_SETTINGS), taken whole."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, settings: dict | None = None, **kwargs):
        legacy = {("layers" if k == "num_layers" else k): kwargs.pop(k) for k in list(kwargs) if k in RNN_SETTINGS or k == "num_layers"}
        settings = {**RNN_SETTINGS, **legacy, **{k: v for k, v in (settings or {}).items() if k in RNN_SETTINGS}}
        cell, num_layers, units, embed_dim, dropout, attention, bidirectional, teacher_forcing, input_feeding, decoder_init, memory, tied = (
            settings[k] for k in RNN_SETTINGS
        )
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
        outputs = tf.TensorArray(self.compute_dtype, size=steps)
        weights = tf.TensorArray(self.compute_dtype, size=steps)

        def body(t, states, outputs, weights):
            attentional, states, step_weights = self._fed_step(embedded[t], states, enc_out, enc_mask, training, prepared)
            return t + 1, states, outputs.write(t, attentional), weights.write(t, step_weights)

        _, _, outputs, weights = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), list(states), outputs, weights)
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
    # (engine/search.py): the memory holds the encoder's outputs and final states; the state is
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
            "settings": {
                "cell": self.cell_kind, "layers": self.num_layers, "units": self.units, "embed_dim": self.embed_dim,
                "dropout": self.dropout_rate, "attention": self.attention_kind, "bidirectional": self.bidirectional,
                "teacher_forcing": self.teacher_forcing, "input_feeding": self.input_feeding,
                "decoder_init": self.decoder_init, "memory": self.memory, "tie_embeddings": self.tie_embeddings,
            },
        }


def build_model(config, src_vocab_size: int, tgt_vocab_size: int) -> keras.Model:
    """The model of `config.arch` (see engine/registry.py), built, taking the config whole."""
    kind = ARCHITECTURES.load(config.arch)
    model = kind(src_vocab_size, tgt_vocab_size, config.model_settings(), name="seq2seq" if config.arch == "rnn" else config.arch)
    model.build_all()
    return model


def load_model(path) -> Seq2Seq:
    """Load a `.keras` file in safe mode (no Lambda, no pickle) without its optimizer. Every
    registered architecture's module is imported first, so that its classes are known to Keras."""
    for name in ARCHITECTURES.names:
        ARCHITECTURES.load(name)
    return keras.saving.load_model(path, compile=False, safe_mode=True)
