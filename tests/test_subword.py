"""Subword runs end to end on a toy English → Chinese corpus: an open vocabulary, numbers and
names that come through, sentences, glossaries; and a run trained before subwords still
translating exactly as it did."""

import json
from pathlib import Path

from engine.config import DecodeOptions
from engine.data.vocab import UNK, SubwordVocab
from engine.decoding.translate import Translator
from engine.text.glossary import Glossary
from engine.text.normalise import normalise

LEGACY_RUN = Path(__file__).parent / "data" / "legacy-word-run"


def test_a_word_the_corpus_never_had_is_known_pieces_and_comes_back(toy_subword_run):
    source, _ = toy_subword_run.vocabs()
    assert isinstance(source, SubwordVocab)
    for word in ("zorblat", "Barcelona's", "naïve", "東京"):
        ids = source.encode(word)
        assert UNK not in ids
        assert source.decode(ids) == normalise(word).lower()
    assert source.knows("apples") and not source.knows("zorblat")


def test_unknown_names_and_numbers_come_through_in_place(toy_subword_run):
    translator = Translator(toy_subword_run)
    results = translator.translate(["Zelda likes 4721 books.", "Tom has 12 cats.", "42", "Zelda"], options=DecodeOptions())
    assert results[0].text.startswith("Zelda") and "4721" in results[0].text
    assert "12" in results[1].text
    assert results[2].text == "42" and results[3].text == "Zelda"  # nothing to translate: as it is


def test_a_line_of_several_sentences_comes_back_whole_and_in_order(toy_subword_run):
    translator = Translator(toy_subword_run)
    line = "Tom likes tea. Mary has 7 dogs. We want cars."
    single = [translator.translate([s], options=DecodeOptions())[0].text for s in ("Tom likes tea.", "Mary has 7 dogs.", "We want cars.")]
    result = translator.translate([line], options=DecodeOptions())[0]
    assert len(result.parts) == 3 and [p.text for p in result.parts] == single
    assert result.text == "".join(single)  # Chinese joins sentences without spaces


def test_a_glossary_term_is_translated_as_the_glossary_says(toy_subword_run):
    translator = Translator(toy_subword_run)
    glossary = Glossary.parse(["tea\t咖啡", "Mary\t"], "g.tsv")
    results = translator.translate(["Tom likes tea.", "Mary sees tea. Mary has tea."], options=DecodeOptions(), glossary=glossary)
    assert "咖啡" in results[0].text and "茶" not in results[0].text
    assert results[1].text.count("咖啡") == 2 and results[1].text.count("Mary") == 2


def test_a_run_trained_before_subwords_translates_exactly_as_before():
    expected = json.loads((LEGACY_RUN / "expected.json").read_text(encoding="utf-8"))
    translator = Translator(LEGACY_RUN, warn=lambda message: None)
    assert [r.text for r in translator.translate(expected["inputs"], beam=1)] == expected["greedy"]
    assert [r.text for r in translator.translate(expected["inputs"], beam=4)] == expected["beam4"]
    # the tools' options add the repetition guard, which changes none of these (none repeats)
    assert [r.text for r in translator.translate(expected["inputs"], options=DecodeOptions(beam=1))] == expected["greedy"]


def test_dynamic_graphs_translate_exactly_as_the_xla_ones(toy_subword_run):
    lines = ["Tom likes tea.", "Mary has 7 dogs. We want cars.", "I see 12 books.", "Zelda"]
    for options in (DecodeOptions(beam=1), DecodeOptions(beam=3, n_best=2)):
        xla = Translator(toy_subword_run, graphs="xla").translate(lines, options=options)
        dynamic = Translator(toy_subword_run, graphs="dynamic").translate(lines, options=options)
        assert [r.text for r in xla] == [r.text for r in dynamic]
        assert [[h.text for h in r.n_best] for r in xla] == [[h.text for h in r.n_best] for r in dynamic]
