"""Scores: pinned sacrebleu numbers (a tokenisation change is caught), multi-reference grouping,
and attention earning its keep on a task where it matters."""

import numpy as np
import pytest
import sacrebleu

from engine.config import preset
from engine.data.corpus import split_pairs
from engine.data.files import Pair, read_anki
from engine.decoding.translate import Translator
from engine.evaluation.evaluate import (
    align_names,
    bleu_tokenizer,
    group_references,
    name_lexicon,
    reference_streams,
    score,
    scores_by_length,
    source_words,
)
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


@pytest.mark.slow
def test_attention_beats_the_plain_model_and_aligns_where_attention_matters(tmp_path):
    """Reversing 8–12 character strings: the plain encoder must squeeze the whole string into
    its final state; attention can look back at each character. Output character t of a
    reversal is source character n-1-t, so a model whose attention aligns peaks there."""
    corpus = tmp_path / "long.txt"
    corpus.write_text("\n".join(reversal_lines(2000, alphabet="abcdefgh", lengths=(8, 12), seed=3)) + "\n", encoding="utf-8")
    pairs, _ = read_anki(corpus)
    accuracy, aligned = {}, 0
    default = preset("default")  # (a recipe states only what differs from the defaults: read the whole config)
    for attention in ("none", "luong"):  # "luong" in the default preset's layout (word-keyed scores)
        layout = {k: getattr(default, k) for k in ("bidirectional", "input_feeding", "decoder_init", "memory")} if attention != "none" else {}
        run = train_toy(tmp_path / attention, corpus, attention=attention, epochs=6, seed=11, **layout)
        config = run.config()
        test = split_pairs(pairs, config.valid_fraction, config.test_fraction, config.seed).test
        translator = Translator(run)
        out = translator.translate([p.source for p in test])
        accuracy[attention] = sum(o.text == p.target for o, p in zip(out, test)) / len(test)  # exact match
    on_mirror = total = 0
    for result in out:
        peaks = translator.attention_of(result)[: len(result.ids)].argmax(-1)
        n = len(result.source_tokens)
        on_mirror += sum(int(peak) == n - 1 - t for t, peak in enumerate(peaks))
        total += len(peaks)
    aligned = on_mirror / total
    # Relative, seeded: attention must do clearly better than the plain model on the same data
    # and get most strings exactly right. Checked over seeds 11–15 with the locked versions
    # (2,000 pairs, 6 epochs: half the time of 4,000 and 7): luong 0.74–0.91, none 0.36–0.53,
    # luong − none ≥ 0.31, peaks on the mirror 0.89–0.94; the margins asked are half of those.
    assert accuracy["luong"] >= accuracy["none"] + 0.15 and accuracy["luong"] >= 0.6, accuracy
    assert aligned >= 0.8, f"only {aligned:.0%} of attention peaks on the mirrored source position"


def test_alignment_measure_gives_the_share_of_name_characters_looking_at_the_name():
    lexicon = {"Tom": "汤姆", "Mary": "玛丽", "Boston": "波士顿"}
    source = ["Tom", "sees", "Mary", "."]
    output = list("汤姆看见玛丽。")
    peaks = [0, 3, 1, 1, 2, 2, 3, 3]  # per output character, then EOS: 姆 looks at "." (a miss)
    weights = np.full((len(peaks), len(source)), 0.1)
    weights[np.arange(len(peaks)), peaks] = 0.7
    count = align_names(source, output, weights, lexicon)
    assert (count.hits, count.total, count.sentences) == (3, 4, 2)
    report = count.report()
    assert report["name_alignment"] == 0.75
    assert report["peaks_in_last_fifth"] == round(2 / 7, 3)  # 姆 and 。 peak on the last token
    # a name inside a possessive token, and a name the output leaves out, which is not counted
    possessive = align_names(["Tom's", "car", "in", "Boston"], list("汤姆的车"), np.eye(5, 4)[[0, 0, 1, 1, 1]], lexicon)
    assert (possessive.hits, possessive.total, possessive.sentences) == (2, 2, 1)


def test_name_lexicon_keeps_names_the_training_data_translates_one_way():
    pairs = [Pair(f"Tom likes {x}.", f"汤姆喜欢{x}。") for x in "abcdefgh"]
    pairs += [Pair(f"Bill is {x}.", ("比尔" if i % 2 else "账单") + x) for i, x in enumerate("abcdefgh")]
    pairs += [Pair("Mary is here.", "玛丽在这里。")]  # too rare to trust
    assert name_lexicon(pairs, {"Tom": "汤姆", "Bill": "比尔", "Mary": "玛丽"}) == {"Tom": "汤姆"}


def test_scores_by_source_length_in_words():
    assert source_words("Tom's car isn't red, is it?") == 6 and source_words("我爱你。") == 3
    sources = ["I see.", "Tom has a big red car now.", "Tom has a big red car and a small blue house."]
    hypotheses = ["我明白。", "汤姆现在有一辆红色的大车。", "汤姆有一辆红色的大车。"]
    references = [["我明白。"], ["汤姆现在有一辆红色的大车。"], ["汤姆有一辆红色的大车和一座蓝色的小房子。"]]
    rows = scores_by_length(sources, hypotheses, references)
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("≤ 5 words", 1), ("6–9 words", 1), ("≥ 10 words", 1)]
    assert rows[1]["bleu"] == 100.0 and rows[2]["bleu"] < 100.0


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
    assert scores["decoding"] == {"beam": 2, "alpha": 1.0, "rerank": False, "guard": True, "dictionary": False} and "nrefs:var" in scores["bleu_signature"]
    assert {"best", "worst", "random"} <= set(scores["examples"])
    assert [row["bucket"] for row in scores["by_length"]] == ["≤ 5 words"]  # one-word sources
    assert scores["alignment"]["name_alignment"] is None and "no attention" in scores["alignment"]["why"]
    recorded = json.loads((toy_run.path / "eval.json").read_text())["files:src.txt"]
    assert recorded["chrf"] == 100.0 and "examples" not in recorded

    held_out = run_script("seq2seq-eval", toy_run.path, "--split", "valid", "--beam", "1", "--no-record")
    assert held_out.returncode == 0 and "BLEU" in held_out.stderr
    mismatch = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", tmp_path / "report.json")
    assert mismatch.returncode == 2 and "lines" in mismatch.stderr
