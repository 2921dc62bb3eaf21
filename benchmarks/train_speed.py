"""Training speed and memory: the Keras tutorial's one-hot pipeline against ours, side by side.

Each measurement runs in its own process so its peak RSS is its own:
  tutorial   the first N pairs of the corpus as the tutorial builds them: float32 one-hot arrays,
             LSTM 256, rmsprop, batch 64, categorical cross-entropy
  ours       the same pairs and model size: embeddings, sparse targets, masking, length buckets
  ours-full  ours on the whole corpus (peak RSS must stay under 2 GB)
Samples/s are measured over the training steps after the first few (compilation excluded).

    python benchmarks/train_speed.py [--corpus PATH] [--pairs 10000] [--steps 120]

Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"
WARMUP_STEPS = 5


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def step_timer():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Times the steps after the first few (which include tracing and compilation)."""

        def __init__(self):
            super().__init__()
            self.steps, self.started, self.samples = 0, None, 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.steps == WARMUP_STEPS:
                self.started = time.perf_counter()

        def result(self, batch_size):
            seconds = time.perf_counter() - self.started
            timed = self.steps - WARMUP_STEPS
            return {"timed_steps": timed, "seconds": round(seconds, 2), "samples_per_s": round(timed * batch_size / seconds, 1)}

    return StepTimer()


def child_tutorial(corpus: str, pairs: int, steps: int) -> dict:
    import engine  # noqa: F401
    from engine.corpus import read_anki
    from engine.tutorial import tutorial_arrays, tutorial_model

    data = read_anki(corpus)[0][:pairs]
    started = time.perf_counter()
    enc_in, dec_in, dec_target = tutorial_arrays(data)
    build_s = time.perf_counter() - started
    model = tutorial_model(enc_in.shape[-1], dec_in.shape[-1], 256)
    timer = step_timer()
    model.fit([enc_in, dec_in], dec_target, batch_size=64, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return {
        **timer.result(64),
        "pairs": len(data),
        "one_hot_gb": round((enc_in.nbytes + dec_in.nbytes + dec_target.nbytes) / 1e9, 2),
        "array_build_s": round(build_s, 1),
        "params": model.count_params(),
    }


def child_ours(corpus: str, pairs: int | None, steps: int) -> dict:
    import engine  # noqa: F401
    from engine.config import preset
    from engine.model import build_model
    from engine.train import compile_model, count_params, prepare_data

    # The tutorial's model size and optimizer; all pairs go to training, as in the tutorial.
    config = preset("tutorial", corpus=corpus, max_pairs=pairs, valid_fraction=0.0, test_fraction=0.0)
    started = time.perf_counter()
    _, (src_vocab, tgt_vocab), plan, _, facts = prepare_data(config)
    build_s = time.perf_counter() - started
    model = build_model(config, len(src_vocab), len(tgt_vocab))
    compile_model(model, config)
    timer = step_timer()
    steps = min(steps, len(plan)) if pairs else len(plan)  # the full corpus runs a whole epoch
    model.fit(plan.dataset(), steps_per_epoch=steps, epochs=1, callbacks=[timer], verbose=0)
    return {**timer.result(config.batch_size), "pairs": plan.size, "array_build_s": round(build_s, 1), "params": count_params(model)}


def run_child(kind: str, args) -> dict:
    print(f"[train_speed] running {kind}…", file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--child", kind, "--corpus", str(args.corpus), "--pairs", str(args.pairs), "--steps", str(args.steps)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"[train_speed] {kind}: {figures}", file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--pairs", type=int, default=10000)
    parser.add_argument("--steps", type=int, default=120, help="training steps timed on the N-pair runs")
    parser.add_argument("--child", choices=("tutorial", "ours", "ours-full"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "tutorial":
            figures = child_tutorial(args.corpus, args.pairs, args.steps)
        else:
            figures = child_ours(args.corpus, args.pairs if args.child == "ours" else None, args.steps)
        print(json.dumps({**figures, "peak_rss_mb": round(peak_rss_mb())}))
        return

    results = {kind: run_child(kind, args) for kind in ("tutorial", "ours", "ours-full")}
    tutorial, ours, full = results["tutorial"], results["ours"], results["ours-full"]
    summary = {
        "benchmark": "train_speed",
        "machine": f"{os.cpu_count()} CPU cores",
        **results,
        "speedup_samples_per_s": round(ours["samples_per_s"] / tutorial["samples_per_s"], 2),
        "rss_ratio_ours_over_tutorial": round(ours["peak_rss_mb"] / tutorial["peak_rss_mb"], 3),
        "full_corpus_peak_rss_mb": full["peak_rss_mb"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
