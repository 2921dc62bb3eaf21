"""The Transformer on the generic decoding interface: the key/value cache gives what recomputing
the whole prefix gives, beam 1 is greedy, it saves and loads in safe mode, and unknown
architecture or attention names fail clearly."""

import numpy as np
import pytest

from engine.config import RunConfig, preset
from engine.data.vocab import BOS, EOS, UNK
from engine.decoding.translate import Translator
from tests.conftest import run_script, train_toy, trained_once

SENTENCES = ["abc", "fedcb", "a", "ddeef", "cafe", "bead", "ffff"]


@pytest.fixture(scope="session")
def transformer_run(tmp_path_factory, reversal_corpus):
    """A small Transformer that reverses short strings (seconds to train), trained once per suite."""
    return trained_once(
        tmp_path_factory, "toy-transformer", reversal_corpus,
        arch="transformer", layers=2, units=32, heads=4, ff_dim=64, dropout=0.0, warmup_steps=50, learning_rate=5e-3,
        epochs=8,
    )


@pytest.fixture(scope="module")
def translator(transformer_run):
    return Translator(transformer_run)


def recompute_greedy(model, source_ids: list[int], max_steps: int) -> list[int]:
    """Greedy decoding without any cache: every step runs the whole prefix through the model
    again (the teacher-forced pass) and takes the last position's best token (never <unk>)."""
    output = []
    for _ in range(max_steps):
        logits, _ = model.teacher_forced(np.array([source_ids], "int32"), np.array([[BOS, *output]], "int32"))
        last = np.array(logits[0, -1])
        last[UNK] = -np.inf
        chosen = int(np.argmax(last))
        if chosen == EOS:
            break
        output.append(chosen)
    return output


def test_the_toy_transformer_learns_to_reverse(translator):
    results = translator.translate(SENTENCES)
    correct = sum(r.text == s[::-1] for r, s in zip(results, SENTENCES))
    assert correct >= len(SENTENCES) - 1, [r.text for r in results]


def test_cached_greedy_equals_recomputing_the_whole_prefix(translator):
    for sentence, result in zip(SENTENCES, translator.translate(SENTENCES)):
        expected = recompute_greedy(translator.model, translator.src_vocab.encode(sentence), translator.max_output_tokens)
        assert result.ids == expected, sentence


def test_beam_of_one_is_greedy_and_wider_beams_score_at_least_as_well(translator):
    greedy = translator.translate(SENTENCES)
    beam_one = translator.translate(SENTENCES, beam=1, n_best=1)
    hyps, _, _ = translator.graph("beam")(np.array([translator.src_vocab.encode("cafe") + [0] * 4], "int32"), 1, 10)
    assert [g.ids for g in greedy] == [b.ids for b in beam_one]
    expected = greedy[4].ids + [EOS]
    assert list(hyps.numpy()[0, 0, : len(expected)]) == expected
    wide = translator.translate(SENTENCES, beam=4)
    assert np.mean([w.score for w in wide]) >= np.mean([g.score for g in greedy]) - 1e-6


def test_safe_mode_save_and_load_gives_identical_output(translator, transformer_run, tmp_path):
    import keras

    from engine.models.base import load_model

    assert not any(isinstance(layer, keras.layers.Lambda) for layer in translator.model._flatten_layers())
    path = tmp_path / "copy.keras"
    translator.model.save(path)
    loaded = load_model(path)  # safe_mode=True
    src = np.array([translator.src_vocab.encode("fedcb")], "int32")
    tgt = np.array([[BOS, 3, 4, 5]], "int32")
    for a, b in zip(translator.model.teacher_forced(src, tgt), loaded.teacher_forced(src, tgt)):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-5)
    # and the run folder's own best.keras translates as the live model does
    assert [r.ids for r in Translator(transformer_run).translate(SENTENCES)] == [r.ids for r in translator.translate(SENTENCES)]


def test_cross_attention_serves_align(translator):
    result = translator.translate(["abcd"], attention=True)[0]
    weights = result.attention
    assert weights.shape == (len(result.ids) + 1, 4)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


def test_learned_positions_build_and_decode(tmp_path, reversal_corpus):
    run = train_toy(
        tmp_path / "learned", reversal_corpus, arch="transformer", layers=1, units=16, heads=2, ff_dim=32,
        positions="learned", epochs=1, max_pairs=300,
    )
    translator = Translator(run)
    result = translator.translate(["abc"])[0]
    assert result.ids == recompute_greedy(translator.model, translator.src_vocab.encode("abc"), translator.max_output_tokens)


@pytest.mark.parametrize("field, value, known", [
    ("arch", "lstm-transformer", "rnn, transformer"),
    ("attention", "dot", "none, luong, bahdanau"),
])
def test_unknown_architecture_or_attention_names_fail_with_the_known_ones(field, value, known):
    with pytest.raises(ValueError, match=f"unknown {'architecture' if field == 'arch' else 'attention'} '{value}'; known: {known}"):
        RunConfig(**{field: value}).validate()
    with pytest.raises(ValueError, match="known: "):
        RunConfig.from_dict({field: value})


def test_the_command_line_names_the_known_architectures(tmp_path):
    result = run_script("seq2seq-train", "--arch", "rnnn", "--run", tmp_path / "x")
    assert result.returncode == 2
    assert "unknown architecture 'rnnn'; known: rnn, transformer" in result.stderr
    assert not (tmp_path / "x").exists()
    assert "transformer (" in run_script("seq2seq-train", "--help").stdout


def test_transformer_settings_are_checked():
    with pytest.raises(ValueError, match="must split into heads"):
        preset("transformer", units=130).validate()
    with pytest.raises(ValueError, match="needs arch rnn"):
        preset("transformer", teacher_forcing=False).validate()
    # the command line names the options instead of the config fields
    result = run_script("seq2seq-train", "--preset", "transformer", "--units", "130", "--run", "/nonexistent/x")
    assert result.returncode == 2 and "must split into --heads" in result.stderr


def test_a_fresh_process_loads_and_translates_a_transformer_run(transformer_run, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\nfedcb\n", encoding="utf-8")
    result = run_script("seq2seq-batch", source, "--model", transformer_run.path, "--beam", "1", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [r.text for r in Translator(transformer_run).translate(["abc", "fedcb"])]
