"""The Keras tutorial's way, kept as a yardstick (benchmarks) and an oracle (tests).

- `tutorial_arrays` / `tutorial_model`: the character-level tutorial's one-hot training data and
  its LSTM model, exactly as it builds them (float32 one-hot arrays of the whole data set).
- `StepByStepDecoder`: the tutorial's inference: a separate encoder model and a one-step decoder
  model built from a trained model's layers, with one `predict()` call per output token.
"""

from __future__ import annotations

import keras
import numpy as np

from engine.data.files import Pair
from engine.data.vocab import BOS, EOS, UNK

# ----------------------------------------------------------------------------------------------
# Training data and model, as the tutorial builds them


def tutorial_arrays(pairs: list[Pair]):
    """One-hot encoder input, decoder input and decoder target, (N, len, tokens) float32 each.

    The tutorial marks the target with "\\t" (start) and "\\n" (end) characters.
    """
    targets = ["\t" + p.target + "\n" for p in pairs]
    input_chars = sorted({c for p in pairs for c in p.source})
    target_chars = sorted({c for t in targets for c in t})
    input_index = {c: i for i, c in enumerate(input_chars)}
    target_index = {c: i for i, c in enumerate(target_chars)}
    max_in = max(len(p.source) for p in pairs)
    max_out = max(len(t) for t in targets)
    encoder_input = np.zeros((len(pairs), max_in, len(input_chars)), dtype="float32")
    decoder_input = np.zeros((len(pairs), max_out, len(target_chars)), dtype="float32")
    decoder_target = np.zeros((len(pairs), max_out, len(target_chars)), dtype="float32")
    for i, (pair, target) in enumerate(zip(pairs, targets)):
        for t, char in enumerate(pair.source):
            encoder_input[i, t, input_index[char]] = 1.0
        encoder_input[i, t + 1 :, input_index[" "] if " " in input_index else 0] = 1.0
        for t, char in enumerate(target):
            decoder_input[i, t, target_index[char]] = 1.0
            if t > 0:
                decoder_target[i, t - 1, target_index[char]] = 1.0
        decoder_input[i, t + 1 :, target_index[" "] if " " in target_index else 0] = 1.0
        decoder_target[i, t:, target_index[" "] if " " in target_index else 0] = 1.0
    return encoder_input, decoder_input, decoder_target


def tutorial_model(num_encoder_tokens: int, num_decoder_tokens: int, latent_dim: int = 256) -> keras.Model:
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    _, state_h, state_c = keras.layers.LSTM(latent_dim, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_outputs, _, _ = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)(
        decoder_inputs, initial_state=[state_h, state_c]
    )
    decoder_outputs = keras.layers.Dense(num_decoder_tokens, activation="softmax")(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


# ----------------------------------------------------------------------------------------------
# Inference, as the tutorial does it


class StepByStepDecoder:
    """Greedy decoding with one `predict()` per token, on a trained `Seq2Seq`'s own layers."""

    def __init__(self, model, allow_unknown: bool = False):
        """allow_unknown: as in `Translator`; off, <unk> is never chosen (same rule, same output)."""
        self.model, self.allow_unknown = model, allow_unknown
        src = keras.Input(shape=(None,), dtype="int32", name="source")
        enc_out, enc_mask, states = model.encode(src)
        self.encoder_model = keras.Model(src, [enc_out, enc_mask, *states], name="tutorial_encoder")

        token = keras.Input(shape=(), dtype="int32", name="token")
        state_inputs = [keras.Input(shape=(s.shape[-1],), name=f"state_{i}") for i, s in enumerate(states)]
        enc_out_in = keras.Input(shape=(None, enc_out.shape[-1]), name="encoder_outputs")
        enc_mask_in = keras.Input(shape=(None,), dtype="bool", name="encoder_mask")
        logits, new_states, _ = model.decode_step(token, state_inputs, enc_out_in, enc_mask_in)
        probs = keras.layers.Softmax()(logits)
        self.decoder_model = keras.Model(
            [token, *state_inputs, enc_out_in, enc_mask_in], [probs, *new_states], name="tutorial_decoder_step"
        )

    def decode(self, source_ids: list[int], max_steps: int) -> list[int]:
        """One sentence: encode once, then predict one token at a time until EOS or max_steps."""
        enc_out, enc_mask, *states = self.encoder_model.predict(np.array([source_ids], "int32"), verbose=0)
        token = np.array([BOS], "int32")
        output = []
        for _ in range(max_steps):
            probs, *states = self.decoder_model.predict([token, *states, enc_out, enc_mask], verbose=0)
            if not self.allow_unknown:
                probs[0, UNK] = -1.0
            chosen = int(np.argmax(probs[0]))
            if chosen == EOS:
                break
            output.append(chosen)
            token = np.array([chosen], "int32")
        return output
