"""Preparation at scale: how long everything before the first training step takes, and how much
memory it holds, as a corpus grows from 100k to millions of pairs.

The big corpora are made the way a user's would look (realistic lengths): each line is two random
pairs of the given corpus joined (English with a space, Chinese directly), written once into
--workdir as `<N>.txt` in the Anki format. Each size is then prepared in a process of its own,
as `seq2seq-train --prepare-only` does (the default recipe on that file alone: reading,
deduplication, splits, normalising, span protection, SentencePiece training, encoding, the run's
data/ folder), so its peak RSS is its own; the stages' times come from the stage messages. A
second process resumes that run (reading data/, never preparing again) to the end of its first
training step: the time a prepared run takes to start, and the peak RSS with training.

    python benchmarks/data_scale.py --corpus ../shared/corpora/cmn-eng/cmn.txt [--sizes 100000,1000000] [--workdir DIR]

Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first child: prepare one file into a run folder (`seq2seq-train --prepare-only`: reading,
# splits, normalising, spans, SentencePiece, encoding, writing data/), report stage times, wall
# time and peak RSS as JSON on stdout.
CHILD = r"""
import hashlib, json, resource, sys, time
start = time.perf_counter()
from engine.config import preset
from engine.data.encoded import load_encoded
from engine.runs import RunFolder
from engine.training.callbacks import TrainingReport
from engine.training.train import train
stages = []
class Stages(TrainingReport):
    def stage(self, message):
        stages.append([round(time.perf_counter() - start, 2), message])
        print(f"  {stages[-1][0]:7.1f}s {message}", file=sys.stderr, flush=True)
imported = time.perf_counter() - start
config = preset("default", corpus=sys.argv[1], extra_corpora=[])
run = RunFolder(sys.argv[2])
train(config, run, report=Stages(), prepare_only=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (before the digest below reads data/)
digest = hashlib.sha256()  # the encoded training pairs, to compare two checkouts byte for byte
for side in load_encoded(run.path)["train"]:
    for array in (side.flat, side.lengths):  # (a slice at a time: the digest is not what is measured)
        for at in range(0, len(array), 1 << 24):
            digest.update(array[at : at + (1 << 24)].tobytes())
facts = run.facts()
print(json.dumps({"encoded_sha256": digest.hexdigest()[:16],
    "seconds": round(seconds, 2), "import_seconds": round(imported, 2), "stages": stages,
    "pairs_read": facts["pairs_read"], "train_pairs": facts["train_pairs_used"],
    "peak_rss_mb": round(peak / 1024),
    # the largest of the processes that shared the per-pair work (engine/data/parallel.py)
    "peak_worker_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
}))
"""

# The second child: resume that run (`seq2seq-train --resume`: it reads data/, memory-mapped,
# and never prepares again) and stop after its first training step: the seconds from the
# process's start to the end of that step, and the peak RSS with training.
FIRST_STEP = r"""
import json, os, resource, sys, time
start = time.perf_counter()
import keras
from engine.runs import RunFolder
from engine.training.callbacks import TrainingReport
from engine.training.train import resume
class FirstStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(json.dumps({"first_step_seconds": round(time.perf_counter() - start, 2),
            "training_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)
        os._exit(0)  # (the rest of the epoch is not what is measured)
class Report(TrainingReport):
    def progress(self, *args, **kwargs):
        return FirstStep()
resume(RunFolder(sys.argv[1]), report=Report())
"""


def joined_corpus(corpus: Path, size: int, path: Path, seed: int = 0) -> Path:
    """`size` lines, each two random pairs of `corpus` joined, in the Anki format."""
    sys.path.insert(0, str(ROOT))
    from engine.data.files import read_anki

    if path.exists():
        return path
    pairs, _ = read_anki(corpus)
    rng = random.Random(seed)
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8") as out:
        for _ in range(size):
            a, b = rng.choice(pairs), rng.choice(pairs)
            out.write(f"{a.source} {b.source}\t{a.target}{b.target}\tjoined from {corpus.name}\n")
    partial.replace(path)
    return path


def in_a_process(code: str, *args, checkout: Path = ROOT) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=checkout, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare_and_start(path: Path, checkout: Path, run: Path) -> dict:
    """Prepare `path` into the run folder `run` with the code of `checkout`, then resume it to its
    first training step, each in a process of its own."""
    shutil.rmtree(run, ignore_errors=True)
    row = in_a_process(CHILD, path, run, checkout=checkout)
    row |= in_a_process(FIRST_STEP, run, checkout=checkout)
    shutil.rmtree(run, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="an Anki-format corpus whose pairs are joined")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of pairs")
    parser.add_argument("--workdir", type=Path, default=None, help="where the big files are written (default: a temporary folder)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of this project (git worktree add DIR REV): each size is prepared by it too, side by side")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="data-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        path = joined_corpus(args.corpus, size, workdir / f"{size}.txt")
        print(f"{size:,} pairs: {path.stat().st_size / 1e6:.0f} MB written in {time.perf_counter() - started:.0f} s; preparing …", file=sys.stderr)
        for label, checkout in [("this checkout", ROOT)] + ([("baseline", args.baseline)] if args.baseline else []):
            row = {"pairs": size, "code": label, "file_mb": round(path.stat().st_size / 1e6)}
            row |= prepare_and_start(path, checkout, workdir / f"run-{size}")
            row["pairs_per_second"] = round(size / (row["seconds"] - row["import_seconds"]))
            print(f"  {label}: {row['seconds']:.0f} s, {row['pairs_per_second']:,} pairs/s, peak RSS {row['peak_rss_mb']:,} MB; "
                  f"resumed: first step after {row['first_step_seconds']:.0f} s, peak RSS {row['training_peak_rss_mb']:,} MB", file=sys.stderr)
            rows.append(row)
    ours = [row for row in rows if row["code"] == "this checkout"]
    for row in ours[1:]:  # (the flatness: ≤ 25% from the smallest size, preparing and training)
        row["rss_growth_from_smallest"] = round(row["peak_rss_mb"] / ours[0]["peak_rss_mb"] - 1, 3)
        row["training_rss_growth_from_smallest"] = round(row["training_peak_rss_mb"] / ours[0]["training_peak_rss_mb"] - 1, 3)
    print(json.dumps({
        "benchmark": "data_scale", "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": f"python benchmarks/data_scale.py --corpus {args.corpus.name} --sizes {args.sizes}"
        + (" --baseline <another checkout>" if args.baseline else ""), "rows": rows,
    }))


if __name__ == "__main__":
    main()
