"""Scores: pinned sacrebleu numbers (a tokenisation change is caught), multi-reference grouping,
and attention earning its keep on a task where it matters."""

import sacrebleu

from engine.corpus import Pair, read_anki, split_pairs
from engine.evaluate import bleu_tokenizer, group_references, reference_streams, score
from engine.translate import Translator
from tests.conftest import reversal_lines, train_toy

HYPOTHESES = ["我爱你。", "他走了", "今天天气很好。"]
REFERENCES = [["我爱你。"], ["他已经走了。", "他离开了。"], ["今天天气不错。"]]


def test_pinned_chinese_scores_use_the_zh_tokenizer():
    report = score(HYPOTHESES, REFERENCES)
    assert (report["bleu"], report["chrf"]) == (49.82, 31.85)
    assert "tok:zh" in report["bleu_signature"] and "nrefs:var" in report["bleu_signature"]
    # the default tokenizer would give a very different number (sacrebleu issue 147)
    plain = sacrebleu.corpus_bleu(HYPOTHESES, reference_streams(REFERENCES)).score
    assert abs(plain - report["bleu"]) > 10


def test_pinned_english_scores_use_13a():
    report = score(["the cat sat on the mat", "hello there"], [["the cat sat on a mat"], ["hello there", "hi there"]])
    assert (report["bleu"], report["chrf"]) == (55.84, 81.97)
    assert "tok:13a" in report["bleu_signature"]


def test_references_of_one_source_are_grouped_in_first_seen_order():
    pairs = [Pair("Hi.", "你好。"), Pair("Run!", "跑！"), Pair("Hi.", "嗨。")]
    sources, references = group_references(pairs)
    assert sources == ["Hi.", "Run!"] and references == [["你好。", "嗨。"], ["跑！"]]
    assert reference_streams(references) == [["你好。", "跑！"], ["嗨。", None]]
    assert bleu_tokenizer(references) == "zh" and bleu_tokenizer([["hello"]]) == "13a"


def test_attention_beats_the_plain_model_where_attention_matters(tmp_path):
    """Reversing 8–14 character strings: the plain encoder must squeeze the whole string into
    its final state; attention can look back at each character."""
    corpus = tmp_path / "long.txt"
    corpus.write_text("\n".join(reversal_lines(4000, alphabet="abcdefgh", lengths=(8, 14), seed=3)) + "\n", encoding="utf-8")
    pairs, _ = read_anki(corpus)
    accuracy = {}
    for attention in ("none", "luong"):
        run = train_toy(tmp_path / attention, corpus, attention=attention, epochs=5, seed=11)
        config = run.config()
        test = split_pairs(pairs, config.valid_fraction, config.test_fraction, config.seed).test
        out = Translator(run).translate([p.source for p in test])
        accuracy[attention] = sum(o.text == p.target for o, p in zip(out, test)) / len(test)  # exact match
    assert accuracy["luong"] >= 0.9 and accuracy["luong"] > accuracy["none"] + 0.2, accuracy


def test_eval_command_scores_files_and_records_the_run(toy_run, tmp_path):
    import json

    from tests.conftest import run_script

    src, refs, report = tmp_path / "src.txt", tmp_path / "refs.txt", tmp_path / "report.json"
    src.write_text("abc\ncafe\nbead\n", encoding="utf-8")
    refs.write_text("cba\nefac\tother\ndaeb\n", encoding="utf-8")
    result = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", refs, "--beam", "2", "--json", report)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # tables go to stderr
    scores = json.loads(report.read_text())
    # one-token sentences have no 4-grams, so BLEU is 0 here by construction; chrF sees them all
    assert scores["chrf"] == 100.0 and scores["references"] == 4 and scores["sentences"] == 3
    assert scores["decoding"] == {"beam": 2, "alpha": 1.0} and "nrefs:var" in scores["bleu_signature"]
    assert {"best", "worst", "random"} <= set(scores["examples"])
    recorded = json.loads((toy_run.path / "eval.json").read_text())["files:src.txt"]
    assert recorded["chrf"] == 100.0 and "examples" not in recorded

    held_out = run_script("seq2seq-eval", toy_run.path, "--split", "valid", "--beam", "1", "--no-record")
    assert held_out.returncode == 0 and "BLEU" in held_out.stderr
    mismatch = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", tmp_path / "report.json")
    assert mismatch.returncode == 2 and "lines" in mismatch.stderr
