"""Files around the text: folders that are not runs, links, damaged run folders, concurrent runs,
devices. Each test does what a user would do, with real folders, links and processes, and
checks that no byte outside the named output or run changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from engine.runs import RunFolder, RunFolderError
from tests.conftest import run_script, script

TINY = ["--preset", "tiny", "--max-pairs", "300", "--units", "16", "--epochs", "1"]


def snapshot(root: Path) -> dict:
    """Every entry below `root`: a link's target, a file's hash and mode, a folder's mode."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_file():
            state[key] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(path.stat().st_mode))
        else:
            state[key] = ("dir", stat.S_IMODE(path.stat().st_mode))
    return state


def one_line_error(result, *fragments) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def copy_of(tmp_path):
    """A private copy of a trained toy run, to damage."""

    def copy(run: RunFolder, name: str = "run") -> RunFolder:
        target = tmp_path / name
        shutil.copytree(run.path, target)
        return RunFolder(target)

    return copy


# ----------------------------------------------------------------------------------------------
# seq2seq-train --run onto folders that are not runs


def test_train_refuses_a_folder_that_is_not_a_run_and_touches_nothing(tmp_path):
    folder, outside = tmp_path / "mine", tmp_path / "outside.json"
    (folder / "backup").mkdir(parents=True)
    (folder / "backup" / "thesis.tex").write_text("years of work\n")
    (folder / "metrics.csv").write_text("my,own,numbers\n")
    outside.write_text('{"precious": true}\n')
    (folder / "vocab-source.json").symlink_to(outside)
    before = snapshot(tmp_path)

    refused = run_script("seq2seq-train", *TINY, "--run", folder)
    assert refused.returncode == 2
    one_line_error(refused, str(folder), "not empty and not a run folder", "--into-existing")
    # told to use the folder anyway, it still never writes over a file it did not write
    still = run_script("seq2seq-train", *TINY, "--run", folder, "--into-existing")
    assert still.returncode == 2
    one_line_error(still, "backup, metrics.csv, vocab-source.json would be overwritten")
    assert snapshot(tmp_path) == before


def test_into_existing_trains_beside_the_users_files(tmp_path):
    folder = tmp_path / "shared-folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep\n")
    result = run_script("seq2seq-train", *TINY, "--run", folder, "--into-existing")
    assert result.returncode == 0, result.stderr
    assert (folder / "notes.txt").read_text() == "keep\n" and RunFolder(folder).is_run()
    again = run_script("seq2seq-train", *TINY, "--run", folder, "--into-existing")
    assert again.returncode == 2 and "already holds a run" in again.stderr


# ----------------------------------------------------------------------------------------------
# A crafted or damaged run folder never reaches outside itself


def test_resume_refuses_a_metrics_link_instead_of_appending_through_it(toy_run, copy_of, tmp_path):
    run = copy_of(toy_run)
    outside = tmp_path / "diary.txt"
    outside.write_text("dear diary\n")
    run.metrics_path.unlink()
    run.metrics_path.symlink_to(outside)
    before = snapshot(tmp_path)
    result = run_script("seq2seq-train", "--resume", run.path, "--epochs", "7")
    assert result.returncode == 1
    one_line_error(result, str(run.metrics_path), "symbolic link")
    assert snapshot(tmp_path) == before  # the config's epochs were not rewritten either


def backup_of(run: RunFolder, states: list[tuple[int, int, float]]) -> list[Path]:
    """Write backup state files for `run` as an interrupted training would: (epoch, step, value
    every weight is set to). Returns their paths, oldest first."""
    from engine.models.base import build_model
    from engine.training.train import compile_model

    config = run.config()
    src, tgt = run.vocabs()
    model = build_model(config, len(src), len(tgt))
    compile_model(model, config)
    model.optimizer.build(model.trainable_variables)
    run.backup_dir.mkdir(exist_ok=True)
    paths = []
    for epoch, step, value in states:
        for variable in model.trainable_variables:
            variable.assign(np.full(variable.shape, value, "float32"))
        path = run.backup_dir / f"state-{epoch:04d}-{step:07d}.weights.h5"
        model.save_weights(path)
        paths.append(path)
    return paths


def test_backup_pointer_outside_the_folder_is_not_followed(toy_run, copy_of, tmp_path):
    run = copy_of(toy_run)
    backup_of(run, [(6, 0, 0.01)])
    foreign = tmp_path / "foreign.weights.h5"
    shutil.copy(run.backup_dir / "state-0006-0000000.weights.h5", foreign)
    (run.backup_dir / "latest.json").write_text(json.dumps({"weights": str(foreign), "epoch": 6, "step": 0}))
    result = run_script("seq2seq-train", "--resume", run.path, "--epochs", "7")
    assert result.returncode == 0, result.stderr
    assert "latest.json: damaged" in result.stderr and "not a state file of this folder" in result.stderr
    assert "resuming" in result.stderr and "from its backup" in result.stderr
    assert run.facts()["epochs_done"] == 7 and not run.backup_dir.exists()


def test_resume_falls_back_to_the_newest_intact_backup(toy_run, copy_of):
    from engine.models.base import build_model
    from engine.training.callbacks import ResumableBackup
    from engine.training.train import compile_model

    run = copy_of(toy_run)
    older, newer = backup_of(run, [(3, 40, 0.25), (3, 60, 0.5)])
    (run.backup_dir / "latest.json").write_text("{ not json")
    newer.write_bytes(newer.read_bytes()[:100])  # truncated by a full disk, say
    warnings = []
    backup = ResumableBackup(run.backup_dir, 100, warn=warnings.append)
    config = run.config()
    model = build_model(config, *map(len, run.vocabs()))
    compile_model(model, config)
    assert backup.restore(model) == (3, 40)
    assert float(model.trainable_variables[0].numpy().flat[0]) == 0.25
    assert "latest.json: damaged" in warnings[0] and newer.name in warnings[1]
    # nothing intact left: one error naming the folder, and --resume changes nothing
    older.write_bytes(b"")
    with pytest.raises(RunFolderError, match="every backup state file is damaged"):
        ResumableBackup(run.backup_dir, 100).restore(model)
    before = snapshot(run.path)
    result = run_script("seq2seq-train", "--resume", run.path, "--epochs", "9")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()  # a warning for each file tried, then the error
    assert [line.split(":")[0] for line in lines] == ["warning"] * 3 + ["error"]
    assert f"error: {run.backup_dir}: every backup state file is damaged" in lines[-1]
    assert snapshot(run.path) == before


# ----------------------------------------------------------------------------------------------
# Damaged run folders: one line naming the file, exit 1


@pytest.mark.parametrize(
    "damage, fragments",
    [
        (lambda run: run.config_path.write_text("garbage"), ["config.json: not valid JSON", "line 1 column 1"]),
        (lambda run: run.facts_path.write_text("[1, 2"), ["run.json: not valid JSON"]),
        (
            lambda run: run.config_path.write_text(json.dumps({**json.loads(run.config_path.read_text()), "units": "abc"})),
            ["config.json: units must be a whole number, not \"abc\""],
        ),
        (lambda run: run.best_path.write_bytes(run.best_path.read_bytes()[:5000]), ["best.keras: cannot be loaded", "truncated"]),
        (lambda run: run.target_vocab_path.write_text('{"level": "char"}'), ["vocab-target.json: not a vocabulary"]),
    ],
    ids=["config-garbage", "run-json-garbage", "config-type", "truncated-model", "vocab"],
)
def test_damaged_run_folder_is_one_line_naming_the_file(toy_run, copy_of, tmp_path, damage, fragments):
    run = copy_of(toy_run)
    damage(run)
    source = tmp_path / "in.txt"
    source.write_text("abc\n")
    result = run_script("seq2seq-batch", source, "-o", tmp_path / "out.txt", "--model", run.path)
    assert result.returncode == 1
    one_line_error(result, *fragments)
    assert not (tmp_path / "out.txt").exists()  # the claimed OUTPUT is given back


def test_chat_model_command_on_a_damaged_run_keeps_the_session(toy_run, toy_word_run, copy_of, tmp_path, capsys):
    from tests.test_chat import drive

    broken = copy_of(toy_word_run, "broken")
    broken.best_path.write_bytes(b"PK\x03\x04 not really")
    text, chat = drive(toy_run, f"abc\r/model {broken.path}\rcafe\r", tmp_path)
    assert text == "cba\nefac\n"  # translated by the toy model before and after
    err = capsys.readouterr().err
    assert "best.keras: cannot be loaded" in err and f"still using {toy_run.path}" in err
    assert "Traceback" not in err and chat.loader.run.path == toy_run.path


# ----------------------------------------------------------------------------------------------
# Output files: links, devices, races, permissions


@pytest.fixture()
def source_file(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("abc\ncafe\n")
    return path


def batch(model, *args, **kwargs):
    return run_script("seq2seq-batch", *args, "--model", model, "--quiet", **kwargs)


def test_output_link_is_followed_and_stays_a_link(toy_run, source_file, tmp_path):
    real = tmp_path / "results" / "real.txt"
    real.parent.mkdir()
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "latest.txt"
    link.symlink_to(real)
    result = batch(toy_run.path, source_file, "-o", link, "--force")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "cba\nefac\n" and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.txt"]  # no temporary left


def test_output_to_a_device_or_fifo_is_written_in_place(toy_run, source_file, tmp_path):
    result = batch(toy_run.path, source_file, "-o", "/dev/null", "--force")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    result = batch(toy_run.path, source_file, "-o", fifo)
    assert result.returncode == 0, result.stderr
    assert reader.communicate(timeout=60)[0] == "cba\nefac\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_two_runs_writing_the_same_new_output_cannot_both_win(toy_run, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\ncafe\nbead\n" * 5_000)  # (seconds of work: the second run starts while it writes)
    out = tmp_path / "out.txt"
    first = subprocess.Popen(
        [script("seq2seq-batch"), source, "-o", out, "--model", toy_run.path, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    while not out.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert out.exists(), "the first run never claimed its output"
    second = batch(toy_run.path, source, "-o", out)
    assert second.returncode == 2 and "exists" in second.stderr and "--force" in second.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert out.read_text().splitlines()[:3] == ["cba", "efac", "daeb"] and len(out.read_text().splitlines()) == 15_000


def test_new_output_gets_the_umask_permissions(toy_run, source_file, tmp_path):
    out = tmp_path / "out.txt"
    result = subprocess.run(
        f"umask 027 && {script('seq2seq-batch')} {source_file} -o {out} --model {toy_run.path} --quiet",
        shell=True, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text() == "cba\nefac\n"


# ----------------------------------------------------------------------------------------------
# Option values


@pytest.mark.parametrize(
    "tool, args, message",
    [
        ("seq2seq-train", ["--units", "0"], "argument --units: must be at least 1, not 0"),
        ("seq2seq-train", ["--epochs", "two"], "argument --epochs: must be a whole number, not 'two'"),
        ("seq2seq-train", ["--learning-rate", "-1"], "argument --learning-rate: must be more than 0"),
        ("seq2seq-batch", ["in.txt", "--batch-size", "0"], "argument --batch-size: must be at least 1"),
        ("seq2seq-eval", ["--beam", "0"], "argument --beam: must be at least 1"),
        ("seq2seq-chat", ["--beam", "-2"], "argument --beam: must be at least 1"),
    ],
)
def test_counts_are_checked_when_parsed(tool, args, message):
    result = run_script(tool, *args)
    assert result.returncode == 2 and message in result.stderr
