"""The model: masking, save/load in safe mode, every variant trains."""

import keras
import numpy as np
import pytest

from engine.config import RunConfig
from engine.models.base import build_model, load_model
from engine.training.train import compile_model

VARIANTS = [
    dict(cell="lstm"),
    dict(cell="gru", layers=2),
    dict(cell="lstm", attention="luong", bidirectional=True),
    dict(cell="gru", attention="bahdanau", dropout=0.2),
    dict(cell="lstm", teacher_forcing=False),
    dict(cell="lstm", attention="luong", bidirectional=True, input_feeding=True),
    dict(cell="gru", layers=2, attention="bahdanau", input_feeding=True, decoder_init="zeros", dropout=0.2),
    dict(cell="lstm", attention="luong", bidirectional=True, input_feeding=True, memory="local"),
    dict(cell="lstm", attention="luong", bidirectional=True, input_feeding=True, memory="both"),
    dict(cell="lstm", attention="luong", bidirectional=True, input_feeding=True, memory="keyed"),
]


def small(**overrides):
    return RunConfig(units=16, embed_dim=8, **overrides)


def batch(seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(4, 20, (6, 7)).astype("int32")
    src[:3, 4:] = 0
    tgt = rng.integers(4, 25, (6, 5)).astype("int32")
    tgt[:, 0] = 1
    return src, tgt


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_save_and_load_in_safe_mode_gives_identical_output(tmp_path, overrides):
    model = build_model(small(**overrides), 20, 25)
    src, tgt = batch()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert np.array_equal(np.asarray(model((src, tgt))), np.asarray(loaded((src, tgt))))
    enc, mask, states = loaded.encode(src)
    logits, new_states, _ = loaded.decode_step(tgt[:, 0], states, enc, mask)
    assert logits.shape == (6, 25) and len(new_states) == len(states)


@pytest.mark.parametrize("overrides", VARIANTS[:3] + VARIANTS[5:6] + VARIANTS[7:], ids=["lstm", "gru2", "bi-luong", "bi-luong-fed", "local-memory", "both-memories", "word-keyed"])
def test_padding_never_changes_a_state_or_an_output(overrides):
    model = build_model(small(**overrides), 20, 25)
    src, tgt = batch()
    padded = np.concatenate([src, np.zeros((6, 5), "int32")], 1)
    _, _, states = model.encode(src)
    _, _, padded_states = model.encode(padded)
    for a, b in zip(states, padded_states):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    np.testing.assert_allclose(np.asarray(model((src, tgt))), np.asarray(model((padded, tgt))), atol=1e-5)


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_every_variant_learns_a_fixed_batch(overrides):
    config = small(optimizer="adam", learning_rate=1e-2, **overrides)
    model = build_model(config, 20, 25)
    compile_model(model, config)
    src, tgt = batch()
    target = np.concatenate([tgt[:, 1:], np.full((6, 1), 2, "int32")], 1)
    weights = np.ones(target.shape, "float32")
    # 80 steps on the one batch (as fit(epochs=80) would take them, without its per-epoch overhead)
    losses = [model.train_on_batch((src, tgt), target, sample_weight=weights, return_dict=True)["loss"] for _ in range(80)]
    assert losses[-1] < 0.5 * losses[0]


def test_no_lambda_layers_anywhere():
    model = build_model(small(attention="bahdanau", bidirectional=True), 20, 25)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model._flatten_layers())


@pytest.mark.parametrize("overrides", VARIANTS[5:] + VARIANTS[2:3], ids=["bi-luong-fed", "gru2-bahdanau-fed-zeros", "local-memory", "both-memories", "word-keyed", "bi-luong"])
def test_one_decoder_step_at_a_time_gives_the_teacher_forced_outputs(overrides):
    """Training (one pass, or the input-feeding loop) and inference (decode_step) are two code
    paths over the same layers: fed the same tokens they must give the same logits and attention."""
    model = build_model(small(**overrides), 20, 25)
    src, tgt = batch()
    enc_out, enc_mask, states = model.encode(src)
    logits, weights = model.decode_sequence(tgt, enc_out, enc_mask, states)
    for t in range(tgt.shape[1]):
        step_logits, states, step_weights = model.decode_step(tgt[:, t], states, enc_out, enc_mask)
        np.testing.assert_allclose(np.asarray(step_logits), np.asarray(logits[:, t]), atol=1e-5)
        np.testing.assert_allclose(np.asarray(step_weights), np.asarray(weights[:, t]), atol=1e-6)


def test_input_feeding_and_zero_start_change_what_the_decoder_reads():
    """With input feeding the decoder's state carries the attentional vector (one more state);
    with decoder_init="zeros" the encoder's final states do not reach the decoder at all."""
    src, _ = batch()
    plain = build_model(small(attention="luong", bidirectional=True), 20, 25)
    fed = build_model(small(attention="luong", bidirectional=True, input_feeding=True, decoder_init="zeros"), 20, 25)
    _, _, plain_states = plain.encode(src)
    _, _, fed_states = fed.encode(src)
    assert len(fed_states) == len(plain_states) + 1
    assert all(not np.asarray(s).any() for s in fed_states)
    assert fed.attention_layer.scaled and not plain.attention_layer.scaled
    # without attention both options are ignored: the tutorial's model stays as it was
    tutorial = build_model(small(input_feeding=True, decoder_init="zeros"), 20, 25)
    assert not tutorial.input_feeding and tutorial.decoder_init == "encoder"


def test_a_backup_puts_the_dropout_streams_back_so_resumed_steps_equal_uninterrupted_ones(tmp_path):
    from engine.training.callbacks import ResumableBackup

    config = small(optimizer="adam", learning_rate=1e-2, dropout=0.3, attention="luong", bidirectional=True)
    src, tgt = batch()
    target = np.concatenate([tgt[:, 1:], np.full((6, 1), 2, "int32")], 1)
    weights = np.ones(target.shape, "float32")

    def fresh():
        keras.utils.set_random_seed(0)
        model = build_model(config, 20, 25)
        compile_model(model, config)
        return model

    def steps(model, count):
        return [model.train_on_batch((src, tgt), target, sample_weight=weights, return_dict=True)["loss"] for _ in range(count)]

    model = fresh()
    steps(model, 3)  # (the dropout's streams move on at every step)
    backup = ResumableBackup(tmp_path / "backup", save_freq=1)
    backup.set_model(model)
    backup.epoch, backup.step = 0, 3
    backup._save_model()
    uninterrupted = steps(model, 2)
    resumed = fresh()
    assert backup.restore(resumed) == (0, 3)
    assert steps(resumed, 2) == uninterrupted
    # the same backup without its streams: other masks, other losses (what resuming did before)
    next(backup.dir.glob("*.seeds.json")).unlink()
    without = fresh()
    backup.restore(without)
    assert steps(without, 2) != uninterrupted
    backup.finish()
    assert not backup.dir.exists()
