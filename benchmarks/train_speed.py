"""Training speed and memory: the Keras tutorial's one-hot pipeline against ours, side by side.

Each measurement runs in its own process so its peak RSS is its own:
  tutorial   the first N pairs of the corpus as the tutorial builds them: float32 one-hot arrays,
             LSTM 256, rmsprop, batch 64, categorical cross-entropy
  ours       the same pairs and model size: embeddings, sparse targets, masking, length buckets
  ours-full  ours on the whole corpus (peak RSS must stay under 2 GB)
Samples/s are measured over the training steps after the first few (compilation excluded).

--part architectures: the shipped layouts on the whole corpus, each with and without XLA-compiled
training steps (`--jit-compile`): the default preset (recurrent) and the transformer preset. The
same --steps batches run twice: the first pass includes tracing and (with XLA) one compilation
per batch shape; the second pass, over the same batches, is timed as the steady state.

--part recipes: the tutorial's pipeline and the default recipe before and after this turn's speed
work (and with XLA), each as `seq2seq-train --preset NAME` prepares it, in one run.

--part threads: the default recipe under seq2seq-train's thread settings (one thread per
operation, operations side by side: engine/training/train.py `use_cores_op_by_op`) against TensorFlow's
default ones, each in its own process, alternating twice.

--part workers: the default preset on one process against two worker processes of
`--distribute multiworker` on this machine (localhost, free ports), samples/s of the global batch.
On a 2-core machine the two workers share the cores and pay for the gradient exchange, so the
ratio is below 1: the figure says what the mechanism costs, not what a second machine gives.

    python benchmarks/train_speed.py [--part tutorial|recipes|threads|architectures|workers|all] [--corpus PATH] [--pairs 10000] [--steps 120]

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
EXTRA_CORPUS = ROOT.parent / "shared" / "corpora" / "tatoeba-extra" / "tatoeba-extra.txt"
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
    from benchmarks.tutorial import tutorial_arrays, tutorial_model
    from engine.data.files import read_anki

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
    from engine.data.prepare import prepare_data
    from engine.models.base import build_model
    from engine.training.train import compile_model, count_params

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


def child_layout(corpus: str, preset_name: str, jit: bool, steps: int, distribute: str = "none") -> dict:
    """One preset on the whole corpus: `steps` batches twice (see the module's docstring)."""
    import engine  # noqa: F401
    from engine.config import preset
    from engine.data.prepare import prepare_data
    from engine.models.base import build_model
    from engine.training.distribute import make_strategy
    from engine.training.train import compile_model, count_params

    config = preset(preset_name, corpus=corpus, extra_corpora=[], jit_compile=jit, distribute=distribute)
    strategy = make_strategy(distribute)
    _, (src_vocab, tgt_vocab), plan, _, _ = prepare_data(config)
    with strategy.scope():
        model = build_model(config, len(src_vocab), len(tgt_vocab))
        compile_model(model, config)
    figures = {"preset": preset_name, "jit_compile": jit, "distribute": distribute, "steps": steps, "params": count_params(model)}
    passes = []
    for _ in range(2):
        started = time.perf_counter()
        try:
            model.fit(plan.dataset(0), steps_per_epoch=steps, epochs=1, verbose=0)
        except Exception as err:  # XLA cannot compile every model: say why, as a figure
            return {**figures, "error": f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300]}"}
        passes.append(time.perf_counter() - started)
    return {**figures, "first_pass_s": round(passes[0], 1), "samples_per_s": round(steps * config.batch_size / passes[1], 1)}


def child_recipe(corpus: str, preset_name: str, jit: bool, steps: int, extra_corpora: list[str], threads: str = "op-by-op") -> dict:
    """One training recipe as `seq2seq-train --preset NAME` runs it (its extra corpora, its text
    pipeline and batches): `steps` batches of its first epoch, in that epoch's order, twice; the
    second pass is timed. Also the matrix-multiply rate of this process and the share of it the
    training step's matrix products reach (3 × the forward products: forward, and the two
    products of each one's gradient)."""
    import numpy as np

    import engine  # noqa: F401
    from engine.training.train import use_cores_op_by_op

    if threads == "op-by-op":  # as seq2seq-train sets them (before TensorFlow runs anything)
        assert use_cores_op_by_op()
    from benchmarks.decode_speed import flops_per_sentence, matmul_gflops
    from engine.config import PRESETS, preset
    from engine.data.prepare import prepare_data
    from engine.models.base import build_model
    from engine.training.train import compile_model, count_params

    overrides = {"extra_corpora": extra_corpora} if PRESETS[preset_name].get("extra_corpora") else {}
    config = preset(preset_name, corpus=corpus, jit_compile=jit, **overrides)
    started = time.perf_counter()
    _, (src_vocab, tgt_vocab), plan, _, facts = prepare_data(config)
    prepared_s = time.perf_counter() - started
    model = build_model(config, len(src_vocab), len(tgt_vocab))
    compile_model(model, config)
    stream = iter(plan.dataset(0))
    batches = [next(stream) for _ in range(steps)]
    passes = []
    for _ in range(2):
        started = time.perf_counter()
        for x, y, w in batches:
            model.train_on_batch(x, y, sample_weight=w)
        passes.append(time.perf_counter() - started)
    samples = sum(int(x[0].shape[0]) for x, _, _ in batches)
    source_tokens = np.mean([float((x[0].numpy() != 0).sum(1).mean()) for x, _, _ in batches])
    target_steps = np.mean([float(w.numpy().sum(1).mean()) for _, _, w in batches])
    train_gflops = 3 * flops_per_sentence(model, source_tokens, target_steps) * samples / passes[1] / 1e9
    peak = matmul_gflops()
    return {
        "preset": preset_name, "jit_compile": jit, "threads": threads, "steps": steps, "params": count_params(model),
        "pairs_per_epoch": plan.size, "steps_per_epoch": len(plan), "data_prepared_s": round(prepared_s, 1),
        "mean_source_tokens": round(float(source_tokens), 1), "mean_target_tokens": round(float(target_steps), 1),
        "first_pass_s": round(passes[0], 1), "samples_per_s": round(samples / passes[1], 1),
        "epoch_minutes": round(passes[1] / steps * len(plan) / 60, 2),
        "train_gflops_per_s": round(train_gflops, 1), "matmul_gflops_per_s": peak, "share_of_matmul_rate": round(train_gflops / peak, 3),
    }


def run_child(kind: str, args, extra=(), env=None) -> dict:
    print(f"[train_speed] running {kind} {' '.join(extra)}…", file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--child", kind, "--corpus", str(args.corpus), "--pairs", str(args.pairs), "--steps", str(args.steps), *extra]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
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
    parser.add_argument("--part", choices=("tutorial", "recipes", "threads", "architectures", "workers", "all"), default="all")
    parser.add_argument("--extra-corpora", nargs="*", default=[str(EXTRA_CORPUS)], help="extra corpora of the recipes that train on some")
    parser.add_argument("--child", choices=("tutorial", "ours", "ours-full", "layout", "recipe"), help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--distribute", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--threads", choices=("op-by-op", "tf-default"), default="op-by-op", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "tutorial":
            figures = child_tutorial(args.corpus, args.pairs, args.steps)
        elif args.child == "recipe":
            figures = child_recipe(args.corpus, args.preset, args.jit, args.steps, args.extra_corpora, args.threads)
        elif args.child == "layout":
            figures = child_layout(args.corpus, args.preset, args.jit, args.steps, args.distribute)
        else:
            figures = child_ours(args.corpus, args.pairs if args.child == "ours" else None, args.steps)
        print(json.dumps({**figures, "peak_rss_mb": round(peak_rss_mb())}))
        return

    summary = {"benchmark": "train_speed", "machine": f"{os.cpu_count()} CPU cores"}
    if args.part in ("tutorial", "all"):
        results = {kind: run_child(kind, args) for kind in ("tutorial", "ours", "ours-full")}
        tutorial, ours, full = results["tutorial"], results["ours"], results["ours-full"]
        summary |= {
            **results,
            "speedup_samples_per_s": round(ours["samples_per_s"] / tutorial["samples_per_s"], 2),
            "rss_ratio_ours_over_tutorial": round(ours["peak_rss_mb"] / tutorial["peak_rss_mb"], 3),
            "full_corpus_peak_rss_mb": full["peak_rss_mb"],
        }
    if args.part in ("recipes", "all"):
        # The default recipe before and after this turn's speed work, beside the tutorial's
        # pipeline, all in this one run (each in its own process, one after the other).
        tutorial = results["tutorial"] if args.part == "all" else run_child("tutorial", args)
        recipes = {"tutorial": tutorial}
        for name, jit in (("default-2026-12", False), ("default", False), ("default", True)):
            extra = ["--preset", name, *(["--jit"] if jit else []), "--extra-corpora", *args.extra_corpora]
            recipes[f"{name}{'+xla' if jit else ''}"] = run_child("recipe", args, extra)
        old, new = recipes["default-2026-12"], recipes["default"]
        summary["recipes"] = recipes | {
            "epoch_minutes_new_over_old": round(new["epoch_minutes"] / old["epoch_minutes"], 2),
            "samples_per_s_new_over_tutorial": round(new["samples_per_s"] / tutorial["samples_per_s"], 2),
            "samples_per_s_xla_over_new": round(recipes["default+xla"]["samples_per_s"] / new["samples_per_s"], 2),
        }
    if args.part in ("threads", "all"):
        # seq2seq-train's thread settings (one thread per operation, operations side by side:
        # engine/training/train.py use_cores_op_by_op) against TensorFlow's own, the default recipe,
        # each in its own process, alternating twice.
        rows = {"tf-default": [], "op-by-op": []}
        for _ in range(2):
            for threads in rows:
                extra = ["--preset", "default", "--threads", threads, "--extra-corpora", *args.extra_corpora]
                rows[threads].append(run_child("recipe", args, extra))
        best = {threads: max(r["samples_per_s"] for r in runs) for threads, runs in rows.items()}
        summary["threads"] = rows | {"best_samples_per_s": best, "op_by_op_over_tf_default": round(best["op-by-op"] / best["tf-default"], 2)}
    if args.part in ("architectures", "all"):
        layouts = {}
        for name in ("default", "transformer"):
            for jit in (False, True):
                layouts[f"{name}{'+xla' if jit else ''}"] = run_child("layout", args, ["--preset", name, *(["--jit"] if jit else [])])
        summary["architectures"] = layouts | {"steps": args.steps} | {
            f"{name}_xla_speedup": round(layouts[f"{name}+xla"]["samples_per_s"] / layouts[name]["samples_per_s"], 2)
            for name in ("default", "transformer")
            if "samples_per_s" in layouts[f"{name}+xla"] and "samples_per_s" in layouts[name]
        }
    if args.part in ("workers", "all"):
        one = run_child("layout", args, ["--preset", "default"])
        summary["workers"] = {"one_process": one, "two_workers": two_workers(args)}
        summary["workers"]["two_over_one"] = round(summary["workers"]["two_workers"]["samples_per_s"] / one["samples_per_s"], 2)
    print(json.dumps(summary))


def two_workers(args) -> dict:
    """The default preset in two worker processes of one multi-worker run on localhost."""
    import socket

    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("localhost", 0))
    addresses = [f"localhost:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    command = [sys.executable, __file__, "--child", "layout", "--corpus", str(args.corpus), "--steps", str(args.steps),
               "--preset", "default", "--distribute", "multiworker"]
    print("[train_speed] running two workers…", file=sys.stderr, flush=True)
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
            **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_CONFIG": json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}),
        })
        for i in range(2)
    ]
    outputs = [w.communicate() for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err[-3000:]}")
    figures = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    result = {**figures[0], "peak_rss_mb_each": [f["peak_rss_mb"] for f in figures]}
    result.pop("peak_rss_mb")
    print(f"[train_speed] two workers: {result}", file=sys.stderr, flush=True)
    return result


if __name__ == "__main__":
    main()
