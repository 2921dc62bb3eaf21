"""What a hostile pass found in the tools (issue 21), each reproduced and held: reports that
overwrite their input, hard links out of a run, damaged runs met by /model, /info and --resume,
and a chat that waits for its background work before it leaves."""

from __future__ import annotations

import json
import os
import threading

import pytest

from engine.runs import PROJECT_ROOT, RunFolder, is_shipped
from repl.models import ModelLoader
from tests.conftest import run_script
from tests.test_safety import copy_of, one_line_error, snapshot  # noqa: F401  (fixture)


@pytest.fixture()
def src_refs(tmp_path):
    src, refs = tmp_path / "src.txt", tmp_path / "refs.txt"
    src.write_text("abc\ncafe\n", encoding="utf-8")
    refs.write_text("cba\nefac\n", encoding="utf-8")
    return src, refs


def test_eval_json_onto_its_own_input_is_refused_before_translating(toy_run, src_refs, tmp_path):
    src, refs = src_refs
    before = snapshot(tmp_path)
    for target in (src, refs):
        result = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", refs, "--json", target, "--force")
        assert result.returncode == 2
        one_line_error(result, "the output is the input")
    assert snapshot(tmp_path) == before


def test_eval_json_in_a_missing_folder_fails_at_once(toy_run, src_refs):
    src, refs = src_refs
    result = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", refs, "--json", "/nonexistent/x.json")
    assert result.returncode == 2
    one_line_error(result, "/nonexistent: no such directory")
    assert "BLEU" not in result.stderr  # nothing was translated first


def test_eval_json_needs_force_to_replace_a_file_and_writes_it_whole(toy_run, src_refs, tmp_path):
    src, refs = src_refs
    report = tmp_path / "report.json"
    report.write_text("old\n")
    refused = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", refs, "--json", report)
    assert refused.returncode == 2 and report.read_text() == "old\n"
    done = run_script("seq2seq-eval", toy_run.path, "--src", src, "--refs", refs, "--json", report, "--force", "--no-record")
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["chrf"] == 100.0  # the toy model reverses both lines exactly


def test_resume_refuses_a_hard_linked_metrics_file(toy_run, copy_of, tmp_path):  # noqa: F811
    run = copy_of(toy_run)
    outside = tmp_path / "elsewhere.csv"
    os.link(run.metrics_path, outside)
    before = snapshot(tmp_path)
    result = run_script("seq2seq-train", "--resume", run.path, "--epochs", "9")
    assert result.returncode == 1
    one_line_error(result, "metrics.csv", "hard links")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "damage, fragments",
    [
        (lambda run: run.metrics_path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.0,0.5,abc\n"), ["metrics.csv:2", "val_loss must be a number"]),
        (lambda run: run.facts_path.write_text(json.dumps({**json.loads(run.facts_path.read_text()), "training_seconds": "x"})), ["run.json", "training_seconds"]),
    ],
    ids=["metrics", "training-seconds"],
)
def test_resume_on_a_damaged_run_names_the_file_and_changes_nothing(toy_run, copy_of, tmp_path, damage, fragments):  # noqa: F811
    run = copy_of(toy_run)
    damage(run)
    before = snapshot(tmp_path)
    result = run_script("seq2seq-train", "--resume", run.path, "--epochs", "9")
    assert result.returncode == 1
    one_line_error(result, *fragments)
    assert snapshot(tmp_path) == before  # config.json's epochs included


@pytest.mark.parametrize("value", ["7", "-0.1", "1"])
def test_label_smoothing_out_of_range_is_a_usage_error(value):
    result = run_script("seq2seq-train", "--preset", "tiny", "--label-smoothing", value, "--run", "/nonexistent/never")
    assert result.returncode == 2
    assert "--label-smoothing" in result.stderr


@pytest.mark.parametrize("damage", ["vocab-garbage", "vocab-link"])
def test_chat_model_command_keeps_the_session_when_a_vocabulary_is_damaged(toy_run, toy_word_run, copy_of, tmp_path, capsys, damage):  # noqa: F811
    from tests.test_chat import drive

    broken = copy_of(toy_word_run, "broken")
    if damage == "vocab-garbage":
        broken.source_vocab_path.write_text("{not json")
    else:
        broken.source_vocab_path.unlink()
        broken.source_vocab_path.symlink_to(toy_word_run.source_vocab_path)
    text, chat = drive(toy_run, f"abc\r/model {broken.path}\rcafe\r", tmp_path)
    assert text == "cba\nefac\n"
    err = capsys.readouterr().err
    assert "vocab-source.json" in err and f"still using {toy_run.path}" in err and "Traceback" not in err


def test_info_on_a_run_with_a_damaged_card_keeps_the_session(toy_run, copy_of, tmp_path, capsys):  # noqa: F811
    from tests.test_chat import drive

    run = copy_of(toy_run)
    run.facts_path.write_text(json.dumps({**json.loads(run.facts_path.read_text()), "params": "x", "split": "y"}))
    text, _ = drive(run, "abc\r/info\rcafe\r", tmp_path)
    assert text == "cba\nefac\n"
    err = capsys.readouterr().err
    assert "model card" in err and "Traceback" not in err


def test_leaving_the_chat_does_not_wait_for_a_model_still_loading(toy_run):
    """Ctrl-D while the model loads: close(wait=False) returns while the loader thread is still
    inside its work (here, blocked on purpose), so the chat can end at once."""
    release = threading.Event()
    loader = ModelLoader.__new__(ModelLoader)
    loader.stop = threading.Event()
    loader.thread = threading.Thread(target=release.wait, daemon=True)
    loader.thread.start()
    assert loader.close(wait=False) is False and loader.stop.is_set() and loader.thread.is_alive()
    release.set()
    assert loader.close(wait=True) is True


def test_the_shipped_models_are_recognised_as_such(tmp_path):
    assert is_shipped(RunFolder(PROJECT_ROOT / "checkpoints" / "default"))
    assert not is_shipped(RunFolder(tmp_path / "default"))
