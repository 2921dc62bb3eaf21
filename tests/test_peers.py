"""The peers benchmark's data side (benchmarks/peers_data.py): our splits written in the format
JoeyNMT and OpenNMT-py read, and their translations scored as seq2seq-eval scores ours. The
peers themselves (torch, hours of training) never run here."""

from __future__ import annotations

import json

import pytest
import sentencepiece

from benchmarks.peers_data import export, held_out_set, read_lines, score_file, write_lines
from benchmarks.peers_toolkits import JoeyNMT, OpenNMT, pieces_to_text
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
        assert (read, skipped) == (list(pairs), 0)
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
    for broken in ("two\nthree", "two\rthree", "two\u2028three", "two\x85three"):  # (what str.splitlines, JoeyNMT's reader, breaks at)
        with pytest.raises(ValueError, match="line break"):
            write_lines(tmp_path / "x.en", ["one", broken])


def test_the_other_direction_exports_chinese_sources_and_english_references(tmp_path):
    corpus = tmp_path / "toy.txt"
    corpus.write_text("\n".join(toy_chinese_lines()) + "\n", encoding="utf-8")
    config = RunConfig(corpus=str(corpus), reverse=True, valid_fraction=0.2, test_fraction=0.3, source_vocab_size=80, target_vocab_size=80)
    facts = export(config, tmp_path / "data", "zh-en")
    sources, references = held_out_set(tmp_path / "data")
    assert (facts["source"], facts["target"]) == ("zh", "en")
    assert (sources, references) == held_out(config, "test")
    assert all("。" in s for s in sources) and all(r[0].endswith(".") for r in references)
    assert read_lines(tmp_path / "data" / "train.zh")[0].endswith("。")


def test_a_config_is_written_as_json_that_yaml_1_1_reads_as_numbers(tmp_path):
    toolkit = JoeyNMT(tmp_path, tmp_path, ("en", "zh"), minutes=12)
    path = toolkit.write_config("config.yaml", {"training": {"learning_rate_min": 1e-6, "rates": [2e-05, 0.5]}})
    text = path.read_text(encoding="utf-8")
    assert "1.0e-06" in text and "2.0e-05" in text  # (PyYAML reads 1e-06, without a dot, as a string)
    assert json.loads(text) == {"training": {"learning_rate_min": 1e-6, "rates": [2e-05, 0.5]}}


def test_opennmt_keeps_the_checkpoint_saved_after_its_lowest_validation_perplexity(tmp_path):
    toolkit = OpenNMT(tmp_path, tmp_path, ("en", "zh"), minutes=12)
    (tmp_path / "run").mkdir()
    lines = []
    for step, perplexity in ((300, 90.5), (600, 41.2), (900, 44.0)):
        checkpoint = tmp_path / "run" / f"model_step_{step}.pt"
        checkpoint.write_bytes(b"weights")
        lines += [f"[INFO] Step {step}/1000000; acc: 30.0;", f"[INFO] Validation perplexity: {perplexity}",
                  f"[INFO] Saving checkpoint {checkpoint}"]
    toolkit.log_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    toolkit.saved = {f"model_step_{step}.pt": step / 10 for step in (300, 600, 900)}
    assert toolkit.best_checkpoint().name == "model_step_600.pt"
    del toolkit.saved["model_step_600.pt"]  # (a checkpoint this run never saved: an earlier run's)
    assert toolkit.best_checkpoint().name == "model_step_900.pt"


def test_pieces_left_by_a_toolkit_become_text():
    assert pieces_to_text("▁Tom ▁lik es ▁tea .") == "Tom likes tea."
    assert pieces_to_text("汤姆喜欢茶。") == "汤姆喜欢茶。"
