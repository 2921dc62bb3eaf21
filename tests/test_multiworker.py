"""Multi-worker training: two worker processes on localhost (CPU, free ports) train one model;
after a worker is killed, both resume from the chief's backup to exactly the steps an
uninterrupted run takes, and the chief alone writes the run folder. (One test: each start of two
workers costs half a minute of both cores.)"""

import json
import os
import signal
import socket
import subprocess
import time

import keras
import pytest

from engine.data.prepare import prepare_data
from engine.decoding.translate import Translator
from engine.models.base import load_model
from engine.runs import RunFolder
from engine.training import train as _registers_the_loss  # noqa: F401  (SequenceLoss, for the optimizer's copy)
from tests.conftest import script

EPOCHS = 3
ARGS = ["--preset", "tiny", "--units", "32", "--embed-dim", "16", "--max-pairs", "1200", "--backup-every", "5",
        "--distribute", "multiworker"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(*args, tmp_path, count: int = 2, scratch: str = "tmp") -> list[subprocess.Popen]:
    """`count` seq2seq-train processes with the same arguments, one per worker index; each gets
    its own TMPDIR so what a non-chief worker leaves behind can be checked."""
    addresses = ",".join(f"localhost:{port}" for port in free_ports(count))
    workers = []
    for index in range(count):
        folder = tmp_path / f"{scratch}-{index}"
        folder.mkdir(exist_ok=True)
        workers.append(subprocess.Popen(
            [script("seq2seq-train"), *map(str, args), "--workers", addresses, "--worker-index", str(index)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(folder)},
        ))
    return workers


def finish(workers, timeout=420) -> list[str]:
    errors = []
    for worker in workers:
        _, err = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, err[-3000:]
        errors.append(err)
    return errors


def completed_steps(run: RunFolder) -> int:
    load_model(run.last_path)  # (registers the project's layers; this copy has no optimizer)
    model = keras.saving.load_model(run.last_path, safe_mode=True)
    return int(model.optimizer.iterations.numpy())


def steps_per_epoch(run: RunFolder) -> int:
    return len(prepare_data(run.config(), run.vocabs())[2])


def test_two_workers_train_one_model_and_a_killed_worker_resumes_to_the_same_steps(tmp_path, reversal_corpus):
    run = RunFolder(tmp_path / "run")
    workers = start_workers(*ARGS, "--corpus", reversal_corpus, "--epochs", EPOCHS, "--run", run.path, tmp_path=tmp_path)
    pointer = run.backup_dir / "latest.json"
    deadline = time.time() + 300
    while time.time() < deadline and all(w.poll() is None for w in workers):
        if pointer.exists():
            state = json.loads(pointer.read_text())
            if state["epoch"] == 1 and state["step"] >= 10:
                break
        time.sleep(0.05)
    assert all(w.poll() is None for w in workers), "training ended before a worker could be killed"
    workers[1].send_signal(signal.SIGKILL)
    workers[1].wait()
    # The chief notices its peer is gone (TensorFlow's collective health check) and stops with an
    # error; a scheduler would now restart the job. Give it time, then stop it ourselves.
    try:
        workers[0].wait(timeout=150)
        assert workers[0].returncode != 0
    except subprocess.TimeoutExpired:
        workers[0].kill()
        workers[0].wait()
    assert run.backup_dir.exists() and run.facts()["epochs_done"] < EPOCHS
    assert "2 replicas" in workers[0].stderr.read()

    resumed = start_workers("--resume", run.path, tmp_path=tmp_path, scratch="resumed")
    chief_err, worker_err = finish(resumed)
    assert "resuming" in chief_err and "backup" in chief_err
    assert "done: worker 1 of 2" in worker_err
    # The global batch is split between the workers, so an epoch has as many steps as on one.
    assert completed_steps(run) == EPOCHS * steps_per_epoch(run)
    assert run.facts()["epochs_done"] == EPOCHS and not run.backup_dir.exists()
    assert [row.split(",")[0] for row in run.metrics_path.read_text().splitlines()[1:]] == [str(e) for e in range(EPOCHS)]
    # Only the chief wrote the run; the other worker's temporary folder is gone.
    assert sorted(p.name for p in run.path.iterdir()) == sorted(
        [".seq2seq-run", "best.keras", "config.json", "data", "last.keras", "metrics.csv", "run.json", "vocab-source.json", "vocab-target.json"]
    )
    assert list((tmp_path / "resumed-1").iterdir()) == []
    results = Translator(run).translate(["abc", "fedcb"])
    assert all(r.text for r in results)


@pytest.mark.parametrize("args, message", [
    (["--distribute", "multiworker"], "needs --workers"),
    (["--workers", "localhost:1"], "--workers and --worker-index go together"),
    (["--distribute", "multiworker", "--workers", "localhost", "--worker-index", "0"], "'localhost' is not host:port"),
    (["--distribute", "multiworker", "--workers", "localhost:1", "--worker-index", "3"], "--worker-index must be from 0 to 0"),
])
def test_bad_worker_options_are_usage_errors(tmp_path, reversal_corpus, args, message):
    from tests.conftest import run_script

    result = run_script("seq2seq-train", "--preset", "tiny", "--corpus", reversal_corpus, "--run", tmp_path / "r", *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "r").exists()
