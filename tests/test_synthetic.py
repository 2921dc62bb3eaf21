"""Back-translation and self-training (engine/data/synthetic.py), and reverse-model reranking
(engine/decoding/rerank.py), on toy models: synthetic pairs made by a real reverse run, cached with their
provenance, continued after an interruption, kept in the run folder and read back by --resume,
tagged; a reranker that prefers the candidate the reverse model explains better."""

from __future__ import annotations

import json

import pytest

from engine.config import DecodeOptions, RunConfig
from engine.data.corpus import load_split
from engine.data.synthetic import SYNTHETIC_TAG, monolingual_lines, synthetic_cache_dir, synthetic_pairs
from engine.runs import RunFolder
from tests.conftest import toy_chinese_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reverse_toy_run(toy_subword_zh_en_run):
    """The toy Chinese corpus the other way round: Chinese in, English out."""
    return toy_subword_zh_en_run


@pytest.fixture(scope="module")
def mono_file(tmp_path_factory):
    """Chinese sentences with attributions after a TAB, a blank line and a repeat (both dropped)."""
    chinese = [c for c in (line.split("\t")[1] for line in toy_chinese_lines(seed=5)) if not any(c.isascii() and c.isalpha() for c in c)][:40]
    path = tmp_path_factory.mktemp("mono") / "mono.txt"
    path.write_text("\n".join(f"{c}\tCC-BY 2.0 (France) #{i}" for i, c in enumerate(chinese)) + "\n\n" + chinese[0] + "\n", encoding="utf-8")
    return path, chinese


def _config(corpus, mono, translating_run, **overrides) -> RunConfig:
    settings = dict(
        corpus=str(corpus), level="subword", source_vocab_size=420, target_vocab_size=320, units=32, embed_dim=16,
        attention="luong", optimizer="adam", learning_rate=1e-2, epochs=1, patience=0, batch_size=32,
        back_translate=[str(mono)], back_translate_with=str(translating_run.path), back_translate_beam=2, valid_fraction=0.1, test_fraction=0.1,
    )
    return RunConfig(**{**settings, **overrides})


def test_monolingual_lines_drop_attribution_blanks_and_repeats(mono_file):
    path, chinese = mono_file
    assert monolingual_lines(path) == list(dict.fromkeys(chinese))


def test_back_translation_is_made_by_the_reverse_run_cached_and_reused(tmp_path, monkeypatch, toy_chinese_corpus, reverse_toy_run, mono_file):
    monkeypatch.setenv("SEQ2SEQ_SYNTHETIC", str(tmp_path / "cache"))
    path, chinese = mono_file
    config = _config(toy_chinese_corpus, path, reverse_toy_run)
    split, _ = load_split(config)
    pairs, facts = synthetic_pairs(config, split)
    made = facts["synthetic"][0]
    assert made["mode"] == "back-translation" and made["done"] == made["sentences"] == len(set(chinese))
    assert {p.target for p in pairs} <= set(chinese) and len(pairs) >= len(set(chinese)) * 0.9
    assert all(p.source and not any("\u4e00" <= c <= "\u9fff" for c in p.source) for p in pairs)  # English made by the reverse run
    from engine.decoding.translate import Translator

    expected = Translator(reverse_toy_run).translate([pairs[0].target], options=DecodeOptions(beam=2))[0].text
    assert pairs[0].source == " ".join(expected.split())
    # a second preparation reads the cache: no model is loaded
    monkeypatch.setattr("engine.decoding.translate.Translator.__init__", lambda *a, **k: pytest.fail("translated again"))
    again, _ = synthetic_pairs(config, split)
    assert again == pairs


def test_an_interrupted_translation_continues_where_it_stopped(tmp_path, monkeypatch, toy_chinese_corpus, reverse_toy_run, mono_file):
    import engine.data.synthetic as synthetic
    from engine.decoding.translate import Translator

    monkeypatch.setenv("SEQ2SEQ_SYNTHETIC", str(tmp_path / "cache"))
    monkeypatch.setattr(synthetic, "CHUNK", 8)
    path, chinese = mono_file
    config = _config(toy_chinese_corpus, path, reverse_toy_run)
    split, _ = load_split(config)
    real, calls = Translator.translate, []

    def translate_then_crash(self, lines, **kw):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(list(lines))
        return real(self, lines, **kw)

    monkeypatch.setattr(Translator, "translate", translate_then_crash)
    with pytest.raises(KeyboardInterrupt):
        synthetic_pairs(config, split)
    cache = next(synthetic_cache_dir().glob("*.tsv"))
    with open(cache, "a", encoding="utf-8") as torn:  # a row half written when it stopped
        torn.write("半句")
    assert json.loads(cache.with_suffix(".json").read_text())["done"] == 16
    calls.clear()
    monkeypatch.setattr(Translator, "translate", lambda self, lines, **kw: (calls.append(list(lines)), real(self, lines, **kw))[1])
    pairs, facts = synthetic_pairs(config, split)
    unique = list(dict.fromkeys(chinese))
    assert calls[0][0] == unique[16]  # continued after the 16 done; none translated twice
    assert sum(map(len, calls)) == len(unique) - 16
    assert facts["synthetic"][0]["done"] == len(unique)
    assert [row.split("\t")[0] for row in cache.read_text(encoding="utf-8").splitlines()] == unique


def test_a_run_keeps_its_synthetic_pairs_tagged_and_resumes_from_its_own_copy(tmp_path, monkeypatch, toy_chinese_corpus, reverse_toy_run, mono_file):
    from engine.data.prepare import text_pairs
    from engine.training.train import resume, train

    monkeypatch.setenv("SEQ2SEQ_SYNTHETIC", str(tmp_path / "cache"))
    path, _ = mono_file
    run = RunFolder(tmp_path / "run")
    train(_config(toy_chinese_corpus, path, reverse_toy_run), run)
    facts = run.facts()
    kept = list((run.path / "synthetic").iterdir())
    assert sorted(p.suffix for p in kept) == [".json", ".tsv"]
    provenance = json.loads(next(p for p in kept if p.suffix == ".json").read_text())
    assert provenance["model"] == str(reverse_toy_run.path) and provenance["mode"] == "back-translation"
    assert facts["synthetic_pairs_used"] > 0 and facts["synthetic"][0]["cache"] == kept[0].stem
    source_vocab, _ = run.vocabs()
    assert SYNTHETIC_TAG in source_vocab.index  # one piece of its own
    split, _ = load_split(run.config())
    synthetic, _ = synthetic_pairs(run.config(), split, run)
    train_pairs, _, _ = text_pairs(run.config(), split, synthetic)
    tagged = [p for p in train_pairs if p.source.startswith(SYNTHETIC_TAG)]
    assert len(tagged) == facts["synthetic_pairs_used"]
    untagged, _, _ = text_pairs(RunConfig(**{**json.loads(run.config().to_json()), "synthetic_tag": False}), split, synthetic)
    assert not any(SYNTHETIC_TAG in p.source for p in untagged)
    # resuming reads the run's own copy: the cache is gone and no model may be loaded
    for stale in synthetic_cache_dir().iterdir():
        stale.unlink()
    monkeypatch.setattr("engine.decoding.translate.Translator.__init__", lambda *a, **k: pytest.fail("translated again"))
    resume(run, epochs=2)
    assert run.facts()["epochs_done"] == 2


def test_self_training_from_source_language_text(tmp_path, monkeypatch, toy_chinese_corpus, reverse_toy_run, mono_file):
    """Chinese text for a Chinese → English run through a Chinese → English model: the real
    sentence is the source, the model's output the target."""
    monkeypatch.setenv("SEQ2SEQ_SYNTHETIC", str(tmp_path / "cache"))
    path, chinese = mono_file
    config = _config(toy_chinese_corpus, path, reverse_toy_run, reverse=True, source_vocab_size=320, target_vocab_size=420)
    split, _ = load_split(config)
    pairs, facts = synthetic_pairs(config, split)
    assert facts["synthetic"][0]["mode"] == "self-training"
    assert {p.source for p in pairs} <= set(chinese)


def test_back_translation_needs_a_run_to_translate_with(toy_chinese_corpus, mono_file):
    with pytest.raises(ValueError, match="back_translate_with"):
        RunConfig(corpus=str(toy_chinese_corpus), level="subword", back_translate=[str(mono_file[0])]).validate()


# ----------------------------------------------------------------------------------------------
# Reranking


class _Hyp:
    def __init__(self, text, log_prob, ids):
        self.text, self.log_prob, self.ids, self.score = text, log_prob, ids, 0.0


def test_the_reranker_prefers_the_candidate_the_reverse_model_explains_better(reverse_toy_run):
    """Two candidates the forward model scores alike: the reverse (zh → en) model reads the
    English back from the right Chinese far better than from a wrong one, so reranking picks it;
    weight 0 leaves the forward order."""
    from engine.decoding.rerank import Channel, rerank
    from engine.decoding.translate import Translator

    channel = Channel(Translator(reverse_toy_run))
    right, wrong = _Hyp("汤姆喜欢猫。", -2.0, [5] * 6), _Hyp("我们想要车。", -1.9, [5] * 6)
    source = "Tom likes cats."
    (best, _), = rerank(channel, [source], [[wrong, right]], alpha=1.0, weight=1.0)
    assert best is right
    (kept, _), = rerank(channel, [source], [[wrong, right]], alpha=1.0, weight=0.0)
    assert kept is wrong
    (explained,), (unexplained,) = channel.log_probs([("汤姆喜欢猫。", source)]), channel.log_probs([("我们想要车。", source)])
    assert explained[0] > unexplained[0] + 2  # nats: far apart, whatever the seed


def test_tuning_writes_the_decoding_defaults_the_translator_then_uses(tmp_path, toy_subword_run, reverse_toy_run):
    import shutil

    from engine.decoding.rerank import DecodingDefaults, tune
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out

    run = RunFolder(tmp_path / "copy")
    shutil.copytree(toy_subword_run.path, run.path)
    DecodingDefaults(rerank_with=str(reverse_toy_run.path)).save(run)
    translator = Translator(run)
    sources, references = held_out(run.config(), "valid")
    chosen = tune(translator, sources, references, beam=3, alphas=(0.8, 1.0), weights=(0.0, 0.5, 1.0))
    assert set(chosen.measured["bleu_by_alpha"]) == {"0.8", "1"} and set(chosen.measured["bleu_reranked_by_weight"]) == {"0.5", "1"}
    assert chosen.rerank == (chosen.measured["gain"] >= 0.5)
    chosen.save(run)
    again = Translator(run)
    assert again.alpha(DecodeOptions()) == chosen.alpha and again.reranks(DecodeOptions()) == chosen.rerank
    assert again.reranks(DecodeOptions(rerank=True)) and not again.reranks(DecodeOptions(beam=1, rerank=True))
    reranked = again.translate(["Tom likes cats."], options=DecodeOptions(beam=3, rerank=True, n_best=2))[0]
    assert len(reranked.n_best) == 2 and reranked.n_best[0].score >= reranked.n_best[1].score
