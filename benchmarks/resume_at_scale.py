"""Exact resume at scale: a run prepared from a big corpus (a million pairs), killed with SIGKILL
mid-epoch and resumed, takes the same batches in the same order with the same optimizer state as
an uninterrupted run: the loss of every step after the resume point equals the uninterrupted
run's.

    python benchmarks/resume_at_scale.py --corpus big.txt [--steps 300] [--kill-after 150] [--workdir DIR]

1. `seq2seq-train --prepare-only` prepares the corpus once (default recipe, a smaller model so
   that steps are quick: the data path is what is measured, not the model);
2. the run folder is copied twice; one copy trains `--steps` steps uninterrupted while the other,
   side by side, is killed with SIGKILL as soon as its backup has passed `--kill-after` steps;
3. the killed copy is resumed (it reads data/ and its backup, never the corpus) to `--steps`;
4. each step's loss (from the running mean Keras reports) is compared.

Progress goes to stderr; the last line of stdout is one JSON object (benchmarks/results/resume_at_scale.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ["--units", "128", "--embed-dim", "64", "--backup-every", "50"]

# A child: resume a run folder, write (global step, loss of that step) per step to a JSON-lines
# file, and stop after the given global step. Keras reports the running mean of the loss since
# the fit (or its epoch) began: step k's own loss is k·mean_k − (k−1)·mean_(k−1).
STEPS = r"""
import json, os, sys
import keras
from engine.runs import RunFolder
from engine.training.callbacks import TrainingReport
from engine.training.train import resume
run, log, last = RunFolder(sys.argv[1]), open(sys.argv[2], "a"), int(sys.argv[3])
class Steps(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.count, self.mean = 0, 0.0
    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        mean = float(logs["loss"])
        step = int(self.model.optimizer.iterations.numpy())
        log.write(json.dumps([step, self.count * mean - (self.count - 1) * self.mean]) + "\n")
        log.flush()
        self.mean = mean
        if step >= last:
            os._exit(0)
class Report(TrainingReport):
    def progress(self, *args, **kwargs):
        return Steps()
resume(run, report=Report())
"""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def steps_child(run: Path, log: Path, last: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", STEPS, str(run), str(log), str(last)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def losses(log: Path) -> dict[int, float]:
    return {step: loss for step, loss in (json.loads(line) for line in log.read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="the big corpus (benchmarks/data_scale.py writes them)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--kill-after", type=int, default=150, help="kill once the backup has passed this many steps")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="resume-at-scale-"))
    prepared, reference, killed = (work / name for name in ("prepared", "reference", "killed"))
    for path in (prepared, reference, killed):
        shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    train_tool = Path(sys.executable).parent / "seq2seq-train"
    subprocess.run([str(train_tool), "--preset", "default", "--corpus", str(args.corpus), "--run", str(prepared),
                    "--prepare-only", *MODEL], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    facts = json.loads((prepared / "run.json").read_text())
    say(f"prepared {facts['train_pairs_used']:,} pairs in {time.perf_counter() - started:.0f} s")
    shutil.copytree(prepared, reference)
    shutil.copytree(prepared, killed)

    logs = {name: work / f"{name}.jsonl" for name in ("reference", "killed", "resumed")}
    for log in logs.values():
        log.unlink(missing_ok=True)
    uninterrupted = steps_child(reference, logs["reference"], args.steps)
    victim = steps_child(killed, logs["killed"], args.steps)
    pointer, killed_at = killed / "backup" / "latest.json", None
    while victim.poll() is None:
        if pointer.exists():
            try:
                state = json.loads(pointer.read_text())
            except ValueError:
                state = {}
            if state.get("epoch", 0) > 0 or state.get("step", 0) >= args.kill_after:  # (an epoch of a big corpus is thousands of steps)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_at = state
                break
        time.sleep(0.05)
    if killed_at is None:
        sys.exit("the run finished before it could be killed: raise --steps")
    steps_before_kill = max(losses(logs["killed"]))
    say(f"killed after {steps_before_kill} steps (backup at epoch {killed_at['epoch']}, step {killed_at['step']})")
    resumed_started = time.perf_counter()
    resumed = steps_child(killed, logs["resumed"], args.steps)
    assert resumed.wait() == 0 and uninterrupted.wait() == 0
    reference_losses, resumed_losses = losses(logs["reference"]), losses(logs["resumed"])
    first_resumed_step = min(resumed_losses)
    compared = sorted(set(resumed_losses) & set(reference_losses))
    differences = [abs(resumed_losses[s] - reference_losses[s]) for s in compared]
    row = {
        "pairs": facts["pairs_read"], "train_pairs": facts["train_pairs_used"],
        "steps": args.steps, "killed_after_steps": steps_before_kill, "backup": killed_at,
        "resumed_from_step": first_resumed_step - 1, "steps_compared": len(compared),
        "max_loss_difference": max(differences), "mean_loss": sum(reference_losses[s] for s in compared) / len(compared),
        "resume_seconds": round(time.perf_counter() - resumed_started, 1),
        "same_steps": compared == list(range(first_resumed_step, args.steps + 1)),
    }
    say(f"resumed from step {row['resumed_from_step']}: {len(compared)} steps compared, largest loss difference {row['max_loss_difference']:.2e}")
    print(json.dumps({
        "benchmark": "resume_at_scale", "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": f"python benchmarks/resume_at_scale.py --corpus {args.corpus.name} --steps {args.steps} --kill-after {args.kill_after}",
        "model": " ".join(MODEL), "rows": [row],
    }))


if __name__ == "__main__":
    main()
