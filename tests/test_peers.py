"""The peers benchmark's data side (benchmarks/peers_data.py): our splits written in the format
JoeyNMT and OpenNMT-py read, and their translations scored as seq2seq-eval scores ours. The
peers themselves (torch, hours of training) never run here."""

from __future__ import annotations

import pytest
import sentencepiece

from benchmarks.peers_data import export, held_out_set, read_lines, score_file, write_lines
from engine.config import RunConfig
from engine.data.corpus import load_split
from engine.data.formats import read_corpus
from engine.evaluation.evaluate import held_out, score
from tests.conftest import toy_chinese_lines


@pytest.fixture
def exported(tmp_path):
    corpus = tmp_path / "toy.txt"
    # sources with two references, so the test set groups them as seq2seq-eval does
    lines = toy_chinese_lines()
    lines += [line.replace("茶", "茶水") for line in lines if "tea" in line]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = RunConfig(corpus=str(corpus), valid_fraction=0.2, test_fraction=0.3, source_vocab_size=80, target_vocab_size=80)
    folder = tmp_path / "data"
    return config, folder, export(config, folder, "en-zh")


def test_the_splits_round_trip_through_the_moses_files_the_peers_read(exported):
    config, folder, facts = exported
    split, _ = load_split(config)
    for name, pairs in (("train", split.train), ("valid", split.valid)):
        read, skipped = read_corpus(f"{folder / f'{name}.en'}+{folder / f'{name}.zh'}")
        assert (read, skipped) == (pairs, 0)
        assert facts["counts"][name] == len(pairs)
    sources, references = held_out(config, "test")
    assert held_out_set(folder) == (sources, references)
    assert any(len(refs) > 1 for refs in references)  # (several references stay together on one line)
    assert facts["counts"]["test"] == len(sources) < len(split.test)


def test_each_side_gets_a_sentencepiece_model_of_its_own_language(exported):
    _, folder, facts = exported
    english = sentencepiece.SentencePieceProcessor(model_file=str(folder / "spm.en.model"))
    chinese = sentencepiece.SentencePieceProcessor(model_file=str(folder / "spm.zh.model"))
    assert english.decode(english.encode("Tom likes 12 cats.")) == "Tom likes 12 cats."
    assert chinese.decode(chinese.encode("汤姆喜欢12个猫。")) == "汤姆喜欢12个猫。"
    assert "汤" not in "".join(english.id_to_piece(i) for i in range(english.get_piece_size()))
    assert (facts["source"], facts["target"]) == ("en", "zh")


def test_a_peers_translations_score_as_seq2seq_eval_scores_ours(exported, tmp_path):
    config, folder, _ = exported
    sources, references = held_out(config, "test")
    perfect, poor = tmp_path / "perfect.txt", tmp_path / "poor.txt"
    write_lines(perfect, (refs[0] for refs in references))
    write_lines(poor, (refs[0][: len(refs[0]) // 2] if i % 2 else "猫" for i, refs in enumerate(references)))
    assert score_file(folder, perfect)["bleu"] == 100.0
    assert score_file(folder, poor) == score(read_lines(poor), references)  # (BLEU tokenize zh, chrF, every reference)
    assert 0 < score_file(folder, poor)["bleu"] < 50
    short = tmp_path / "short.txt"
    write_lines(short, read_lines(poor)[:-1])
    with pytest.raises(ValueError, match="lines for"):
        score_file(folder, short)


def test_a_sentence_with_a_line_break_is_refused_rather_than_shifting_the_file(tmp_path):
    with pytest.raises(ValueError, match="line break"):
        write_lines(tmp_path / "x.en", ["one", "two\nthree"])
