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
