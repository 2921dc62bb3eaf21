"""The translator: compiled greedy equals the tutorial's step-by-step loop, beam search behaves,
and any input is safe."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.tutorial import StepByStepDecoder
from engine.data.corpus import split_pairs
from engine.data.files import read_anki
from engine.data.vocab import UNK
from engine.decoding.translate import Translator

SENTENCES = ["abc", "fedcb", "a", "ddeef", "cafe", "bead", "ffff"]


@pytest.fixture(scope="module")
def translators(toy_run, toy_attention_run, toy_aligned_run, toy_word_run):
    return {
        "lstm": Translator(toy_run, graphs="xla"),
        "gru-bi-luong": Translator(toy_attention_run, graphs="xla"),
        "lstm-bi-luong-fed": Translator(toy_aligned_run, graphs="xla"),
        "word": Translator(toy_word_run, graphs="xla"),
    }


@pytest.mark.parametrize("kind", ["lstm", "gru-bi-luong", "lstm-bi-luong-fed", "word"])
def test_compiled_greedy_equals_the_tutorial_step_by_step_loop(translators, kind):
    translator = translators[kind]
    sentences = SENTENCES if kind != "word" else ["the cat runs.", "a big dog.", "blue.", "red dog sees cat."]
    reference = StepByStepDecoder(translator.model)
    ours = translator.translate(sentences)
    for sentence, result in zip(sentences, ours):
        expected = reference.decode(translator.src_vocab.encode(sentence), translator.max_output_tokens)
        assert result.ids == expected, sentence


def test_results_come_back_in_input_order_whatever_the_batching(translators):
    translator = translators["lstm"]
    sentences = SENTENCES * 9
    together = [t.text for t in translator.translate(sentences, batch_size=8)]
    alone = [translator.translate([s])[0].text for s in SENTENCES]
    assert together == alone * 9
    assert together[0] == "cba"


@pytest.mark.parametrize("kind", ["lstm", "gru-bi-luong", "lstm-bi-luong-fed"])
def test_beam_of_one_is_greedy(translators, kind):
    translator = translators[kind]
    greedy = translator.translate(SENTENCES)
    beam = translator.translate(SENTENCES, beam=1, n_best=1)
    assert [g.ids for g in greedy] == [b.ids for b in beam]
    # the batched beam graph with k=1 takes the same path as greedy too
    hyps, _, _ = translator.graph("beam")(np.array([translator.src_vocab.encode("cafe") + [0] * 4], "int32"), 1, 10)
    expected = greedy[4].ids + [2]  # … then EOS
    assert list(hyps.numpy()[0, 0, : len(expected)]) == expected


def test_beam_search_finds_more_probable_translations_on_held_out_data(toy_run, reversal_corpus):
    translator = Translator(toy_run)
    config = toy_run.config()
    pairs, _ = read_anki(reversal_corpus)
    test = split_pairs(pairs, config.valid_fraction, config.test_fraction, config.seed).test
    sources = [p.source for p in test]
    greedy = translator.translate(sources)
    beam = translator.translate(sources, beam=4, n_best=4)
    assert np.mean([b.score for b in beam]) >= np.mean([g.score for g in greedy])
    for result in beam:
        scores = [h.score for h in result.n_best]
        assert len(result.n_best) == 4 and scores == sorted(scores, reverse=True)
        assert result.text == result.n_best[0].text


def test_unknown_is_never_chosen_unless_allowed(toy_run):
    from engine.data.vocab import UNK

    strict = Translator(toy_run)
    loose = Translator(toy_run, allow_unknown=True)
    # make <unk> the favourite output token of both models (each translator loads its own)
    saved = strict.model.project.bias.numpy()
    for translator in (strict, loose):
        translator.model.project.bias.assign(saved + 50.0 * (np.arange(len(saved)) == UNK))
    assert UNK in loose.translate(["abc"])[0].ids
    assert UNK not in strict.translate(["abc"])[0].ids
    assert UNK not in strict.translate(["abc"], beam=3)[0].ids
    assert strict.translate(["abc"])[0].ids == StepByStepDecoder(strict.model).decode(strict.src_vocab.encode("abc"), 10)


def test_empty_input_gives_empty_output(translators):
    results = translators["lstm"].translate(["", "   ", "abc"])
    assert [r.text for r in results[:2]] == ["", ""]
    assert results[2].text == "cba"
    assert translators["lstm"].translate([]) == []


def test_unseen_characters_become_unk_and_are_reported(translators):
    result = translators["lstm"].translate(["ab☃z"])[0]
    assert result.unknown == ["☃", "z"]
    assert translators["lstm"].src_vocab.encode("ab☃z")[2:] == [UNK, UNK]


def test_long_input_is_split_at_sentence_punctuation(translators, capsys):
    translator = translators["word"]
    translator.max_source_tokens = 6
    sentence = "the cat runs. a dog sees the cat."
    result = translator.translate([sentence])[0]
    assert result.text == " ".join(
        translator.translate(["the cat runs."])[0:1][0].text.split() + translator.translate(["a dog sees the cat."])[0].text.split()
    )
    long_piece = translator.translate(["the cat runs the dog sees a cat big red"])[0]
    assert long_piece.warnings and "truncated" in long_piece.warnings[0]
    assert "truncated" in capsys.readouterr().err
    translator.max_source_tokens = translator.run.facts()["max_source_tokens"]


def test_attention_weights_come_with_each_translation(translators):
    result = translators["gru-bi-luong"].translate(["abcd"], attention=True)[0]
    assert result.attention.shape == (len(result.ids) + 1, 4)
    np.testing.assert_allclose(result.attention.sum(1), 1.0, atol=1e-4)
    # reversal: the first output character attends most to the last input character
    assert result.attention[0].argmax() == 3


@pytest.mark.parametrize("kind", ["gru-bi-luong", "lstm-bi-luong-fed"])
def test_attention_on_request_equals_attention_returned_with_the_translation(translators, kind):
    translator = translators[kind]
    plain = translator.translate(["abcd"])[0]
    assert plain.attention is None
    eager = translator.translate(["abcd"], attention=True)[0]
    np.testing.assert_allclose(translator.attention_of(plain), eager.attention, atol=1e-6)
    assert translators["lstm"].attention_of(translators["lstm"].translate(["abc"])[0]) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), max_size=5))
def test_any_unicode_of_any_length_is_safe(translators, texts):
    results = translators["lstm"].translate(texts, beam=2)
    assert len(results) == len(texts)
    assert all(isinstance(r.text, str) for r in results)
