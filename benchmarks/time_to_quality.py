"""Time to quality: minutes of training each architecture needs to reach the shipped default
model's validation BLEU, side by side in one run.

    python benchmarks/time_to_quality.py [--minutes 45] [--rows default default-2026-12] [--out DIR]
                                         [--corpus FILE] [--extra-corpora FILE …] [--target BLEU]
                                         [--cores-per-row all|one]

(The default preset lowers its learning rate over the budget: its curve depends on --minutes.)

A row is a preset, optionally with changes: `default:batch_size=128,learning_rate=0.003`
(values read as JSON, else as strings). Rows whose preset trains on extra corpora get
--extra-corpora in their place (the presets name tatoeba:eng-cmn, which needs a download).

Each row trains its preset (a full run folder under --out, kept) in its own process for at most
--minutes of training: by default the rows run one after the other, each on every core
(`--cores-per-row all`: what a user training on this machine gets); `--cores-per-row one` runs
them side by side, each pinned to a core of its own. At the end of every
epoch the weights are kept beside the run; when training is over each row scores every epoch's
weights on the validation split (beam 4, sacrebleu BLEU tokenize="zh", as the shipped model's
card reports it). The answer for a row is the training minutes at the end of the first epoch
that reached the target, or null when none did within the budget.

The target is the validation BLEU recorded in checkpoints/default/eval.json (or --target).
Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"
EXTRA_CORPUS = ROOT.parent / "shared" / "corpora" / "tatoeba-extra" / "tatoeba-extra.txt"


def log(message: str) -> None:
    print(f"[time-to-quality] {message}", file=sys.stderr, flush=True)


def snapshot_report(folder: Path):
    """A TrainingReport whose progress callback also keeps each epoch's weights (numpy arrays in
    order, .npz) and the training seconds at that epoch's end."""
    import keras
    import numpy as np

    from engine.training.callbacks import TrainingReport

    class Snapshots(keras.callbacks.Callback):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.seconds = inner, 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.inner.on_epoch_begin(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            self.seconds += time.perf_counter() - self.started
            self.inner.on_epoch_end(epoch, logs)
            folder.mkdir(parents=True, exist_ok=True)
            np.savez(folder / f"epoch-{epoch + 1:03d}.npz", *self.model.get_weights())
            with open(folder / "epochs.jsonl", "a") as handle:
                handle.write(json.dumps({"epoch": epoch + 1, "training_seconds": round(self.seconds, 1)}) + "\n")

        def set_model(self, model):
            super().set_model(model)
            self.inner.set_model(model)

    class Report(TrainingReport):
        def progress(self, *args, **kwargs):
            return Snapshots(super().progress(*args, **kwargs))

    return Report()


def folder_name(row: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in row)


def row_config(row: str, args):
    """The RunConfig of a row: its preset, its changes, the corpora and the time budget."""
    from engine.config import PRESETS, preset

    name, _, changes = row.partition(":")
    overrides = {"corpus": args.corpus, "max_minutes": args.minutes}
    if PRESETS[name].get("extra_corpora"):
        overrides["extra_corpora"] = list(args.extra_corpora)
    for item in filter(None, changes.split(",")):
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return preset(name, **overrides)


def child(row: str, args) -> dict:
    import numpy as np

    import engine  # noqa: F401
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import evaluate, held_out
    from engine.runs import RunFolder
    from engine.training.train import train, use_cores_op_by_op

    use_cores_op_by_op()  # as seq2seq-train sets them

    config = row_config(row, args)
    run = RunFolder(Path(args.out) / folder_name(row))
    snapshots = run.path.parent / f"{folder_name(row)}-epochs"
    if not args.score_only:
        log(f"{row}: training up to {args.minutes:g} min on cores {sorted(os.sched_getaffinity(0))}")
        train(config, run, report=snapshot_report(snapshots))
    sources, references = held_out(config, "valid")
    translator = Translator(run)
    # what the run leaves in best.keras (with average_last, the average of its last epochs when
    # that scored better on valid): the model a user of --max-minutes gets
    final = evaluate(translator, sources, references, beam=4)["bleu"]
    log(f"{row}: the run's best.keras: valid BLEU {final}")
    epochs = [json.loads(line) for line in (snapshots / "epochs.jsonl").read_text().splitlines()]
    for entry in epochs:
        with np.load(snapshots / f"epoch-{entry['epoch']:03d}.npz") as saved:
            translator.model.set_weights([saved[f"arr_{i}"] for i in range(len(saved.files))])
        entry["valid_bleu_beam4"] = evaluate(translator, sources, references, beam=4)["bleu"]
        log(f"{row}: epoch {entry['epoch']} at {entry['training_seconds'] / 60:.1f} min: valid BLEU {entry['valid_bleu_beam4']}")
    facts = run.facts()
    return {"params": facts["params"], "epochs": epochs, "final_valid_bleu_beam4": final,
            "training_minutes": round(facts["training_seconds"] / 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--minutes", type=float, default=45.0, help="training budget of every row")
    parser.add_argument("--rows", nargs="*", default=["default", "default-2026-12"], help="presets to compare (preset[:key=value,…])")
    parser.add_argument("--extra-corpora", nargs="*", default=[str(EXTRA_CORPUS)], help="extra training corpora of the rows whose preset has some")
    parser.add_argument("--target", type=float, help="validation BLEU to reach (default: the shipped default's)")
    parser.add_argument("--out", default=str(ROOT / "checkpoints" / "time-to-quality"), help="folder for the runs")
    parser.add_argument("--cores-per-row", choices=("all", "one"), default="all",
                        help="all: rows one after the other on every core; one: side by side, a core each")
    parser.add_argument("--score-only", action="store_true", help="score the epochs of rows already trained in --out (no training)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    target = args.target
    if target is None:
        recorded = json.loads((ROOT / "checkpoints" / "default" / "eval.json").read_text(encoding="utf-8"))
        target = recorded["valid"]["bleu"]
    for row in args.rows if not args.score_only else []:
        if (Path(args.out) / folder_name(row)).exists():
            raise SystemExit(f"{Path(args.out) / folder_name(row)} exists; remove it or pass another --out")
    cores = sorted(os.sched_getaffinity(0))
    side_by_side = args.cores_per_row == "one" and len(cores) >= len(args.rows)

    def start(i: int, row: str) -> subprocess.Popen:
        command = [sys.executable, __file__, "--child", row, "--corpus", args.corpus, "--minutes", str(args.minutes), "--out", args.out,
                   *(["--score-only"] if args.score_only else []), "--extra-corpora", *args.extra_corpora]
        if side_by_side:
            command = ["taskset", "-c", str(cores[i]), *command]
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    def finished(row: str, process: subprocess.Popen) -> dict:
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"{row} failed (exit {process.returncode})")
        return json.loads(out.strip().splitlines()[-1])

    if side_by_side:
        started = [(row, start(i, row)) for i, row in enumerate(args.rows)]
        results = {row: finished(row, process) for row, process in started}
    else:
        results = {row: finished(row, start(i, row)) for i, row in enumerate(args.rows)}
    rows = {}
    for row, result in results.items():
        reached = next((e for e in result["epochs"] if e["valid_bleu_beam4"] >= target), None)
        best = max(result["epochs"], key=lambda e: e["valid_bleu_beam4"])
        rows[row] = {
            "params": result["params"],
            "minutes_to_target": round(reached["training_seconds"] / 60, 1) if reached else None,
            "epochs_to_target": reached["epoch"] if reached else None,
            "best_valid_bleu_beam4": best["valid_bleu_beam4"], "best_at_minutes": round(best["training_seconds"] / 60, 1),
            "curve": [(round(e["training_seconds"] / 60, 1), e["valid_bleu_beam4"]) for e in result["epochs"]],
            "final_valid_bleu_beam4": result["final_valid_bleu_beam4"], "training_minutes": result["training_minutes"],
        }
        log(f"{row}: {rows[row]}")
    each = "one core each, side by side" if side_by_side else f"all {len(cores)} cores each, one after the other"
    print(json.dumps({
        "benchmark": "time_to_quality", "machine": f"{len(cores)} CPU cores ({each})", "budget_minutes": args.minutes,
        "target_valid_bleu_beam4": target, "rows": rows,
    }))


if __name__ == "__main__":
    main()
