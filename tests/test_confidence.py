"""Confidence per translation (engine/decoding/confidence.py): the score, the words low / medium /
high from a run's thresholds, what "low" catches, and how every tool shows it (batch's jsonl and
tables, a catalogue's comments, the chat, the API on request). Fast tier: the stand-in models of
tests/fakes.py call a sentence with a `?` low and any other high."""

from __future__ import annotations

import json

import polib
import pytest

from engine.decoding.confidence import calibrate, judged, level_of, quantile, token_log_prob, usefulness
from engine.decoding.translation import Translation
from repl import batch
from repl.chat import Chat
from tests.fakes import fake_models
from tests.test_serve import app_of
from tests.test_tools_fast import type_into


def decoded(log_prob: float, tokens: int, parts=()) -> Translation:
    return Translation("x", "y", 0.0, log_prob, list(range(tokens)), [], parts=list(parts))


def test_the_score_is_the_mean_log_probability_per_token_of_the_weakest_sentence():
    assert token_log_prob(decoded(-3.0, 2)) == pytest.approx(-1.0)  # (2 tokens and the end of sentence)
    line = decoded(-9.0, 5, parts=[decoded(-1.0, 1), decoded(-8.0, 3)])
    assert token_log_prob(line) == pytest.approx(-2.0)  # (-8 over 4, not the line's mean)
    assert token_log_prob(decoded(0.0, 0)) is None  # (nothing decoded: a number or a URL passed through)


def test_words_come_from_the_runs_thresholds_and_a_memory_match_is_high():
    thresholds = {"low": -1.5, "high": -0.5}
    assert [level_of(v, thresholds) for v in (-2.0, -1.5, -0.6, -0.5, -0.1)] == ["low", "medium", "medium", "high", "high"]
    assert level_of(-2.0, {}) is None and level_of(None, thresholds) is None  # (no thresholds: no word, never a guess)
    results = judged([decoded(-3.0, 2), Translation("x", "y", 0.0, 0.0, [], [], confidence="high")], thresholds)
    assert [r.confidence for r in results] == ["medium", "high"]


def test_calibration_flags_a_quarter_and_reports_what_low_catches():
    values = [-float(i) / 10 for i in range(100)]  # 0 … -9.9
    chrfs = [100.0 - i for i in range(100)]  # the lower the score, the worse the translation
    chosen = calibrate(values, chrfs)
    assert chosen["low"] == quantile(values, 0.25) and chosen["high"] == quantile(values, 0.6)
    measured = chosen["measured"]
    assert measured["all_flagged"] == pytest.approx(0.25, abs=0.02) and measured["worst_flagged"] == 1.0
    unrelated = usefulness(values, [float(i % 7) for i in range(100)], chosen)  # (chrF unrelated to the score)
    assert unrelated["worst_flagged"] < 0.6
    with pytest.raises(ValueError, match="too few"):
        calibrate([None] * 30 + [-1.0] * 5, [50.0] * 35)


@pytest.fixture
def session(monkeypatch):
    models = fake_models()
    monkeypatch.setattr(batch.Models, "for_session", classmethod(lambda cls, *a, **k: models))
    return models


def test_batch_shows_the_confidence_of_each_line_and_lists_the_low_ones(session, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("Is it far?\nabc\n\nWhere? Here.\n", encoding="utf-8")
    assert batch.main([str(source), "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r.get("confidence") for r in records] == ["low", "high", None, "low"]  # (a line: its weakest sentence)
    assert "low 2 · high 1" in captured.err
    assert "low confidence: check these first" in captured.err and "Where? Here." in captured.err.split("check these first")[1]


def test_a_catalogue_entry_of_low_confidence_says_so_in_a_comment(session, tmp_path):
    source, out = tmp_path / "app.po", tmp_path / "out.po"
    source.write_text('msgid "Are you sure?"\nmsgstr ""\n\nmsgid "Open file"\nmsgstr ""\n', encoding="utf-8")
    assert batch.main([str(source), "-o", str(out), "--quiet"]) == 0
    entries = {e.msgid: e for e in polib.pofile(str(out))}
    assert "seq2seq: low confidence; check it" in entries["Are you sure?"].tcomment
    assert "low confidence" not in entries["Open file"].tcomment and "fuzzy" in entries["Open file"].flags


def test_the_chat_warns_about_a_low_confidence_translation(tmp_path, capsys):
    chat = Chat(fake_models(), interactive=True)
    type_into(chat, "Is it far?\rabc\r", tmp_path)
    err = capsys.readouterr().err
    assert err.count("low confidence: check this translation") == 1 and "confidence high" in err


def test_the_api_returns_confidence_only_when_asked():
    from starlette.testclient import TestClient

    with TestClient(app_of()) as client:
        plain = client.post("/translate", json={"q": ["far?", "abc"], "source": "en", "target": "en"}).json()
        asked = client.post("/translate", json={"q": ["far?", "abc"], "source": "en", "target": "en", "confidence": True}).json()
        one = client.post("/translate", json={"q": "abc", "source": "en", "target": "en", "confidence": True}).json()
        html = client.post("/translate", json={"q": "<p>abc</p>", "format": "html", "source": "en", "target": "en", "confidence": True})
    assert "confidence" not in plain and asked["confidence"] == ["low", "high"] and one["confidence"] == "high"
    assert html.status_code == 400 and "confidence" in html.json()["error"]


def test_calibration_writes_thresholds_the_translator_then_uses(toy_subword_run, tmp_path):
    import shutil

    from engine.decoding.rerank import DecodingDefaults
    from engine.decoding.translate import Translator
    from engine.runs import RunFolder
    from tests.conftest import run_script

    run = RunFolder(shutil.copytree(toy_subword_run.path, tmp_path / "run"))  # (the shared toy is never written)
    result = run_script("seq2seq-eval", run.path, "--calibrate-confidence", "--beam", "2")
    assert result.returncode == 0, result.stderr
    chosen = DecodingDefaults.of(run).confidence
    assert chosen["low"] <= chosen["high"] and chosen["measured"]["split"] == "valid" and "flagged low" in result.stderr
    levels = [t.confidence for t in Translator(run).translate(["Tom likes tea.", "Mary has 3 cats.", "Ben sees dogs."])]
    assert set(levels) <= {"low", "medium", "high"} and None not in levels
    assert all(t.confidence is None for t in Translator(toy_subword_run).translate(["Tom likes tea."]))  # (uncalibrated: no word)
    again = run_script("seq2seq-eval", run.path, "--calibrate-confidence", "--json", tmp_path / "out.json")
    assert again.returncode == 2 and "--calibrate-confidence uses the run's valid split" in again.stderr
