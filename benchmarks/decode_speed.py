"""Decoding speed: the tutorial's step-by-step `predict()` loop against our compiled decoder, on
the same trained weights, in one process.

Model: the tutorial's size (LSTM 256, no attention, character level). Pass --run to use a trained
run; without it the script first trains one with the `tutorial` preset on the whole corpus for
--epochs epochs (so its outputs have realistic lengths) in a temporary folder.

Figures: single-sentence greedy latency p50/p90 (ms), batch throughput (sentences/s) for greedy
and beam 4, peak RSS, the model's FLOPs per sentence, and the machine's matrix-multiply rate
measured in the same run, so the decoder's share of the arithmetic limit shows.

    python benchmarks/decode_speed.py [--run DIR] [--sentences 1000] [--tutorial-sentences 100]
    python benchmarks/decode_speed.py --only-compare --compare checkpoints/default --guard

Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"


def log(message: str) -> None:
    print(f"[decode_speed] {message}", file=sys.stderr, flush=True)


def percentile(values, q):
    import numpy as np

    return round(float(np.percentile(values, q)) * 1000, 3)


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """This machine's float32 matrix-multiply rate through TensorFlow: `repeats` independent
    n × n products in one graph, so that every core works whether the process splits each
    operation across the cores (TensorFlow's default) or runs operations side by side, one
    thread each (seq2seq-train's setting)."""
    import tensorflow as tf

    a = tf.random.normal([n, n])
    bs = [tf.random.normal([n, n]) for _ in range(repeats)]
    products = tf.function(lambda a, bs: [tf.linalg.matmul(a, b) for b in bs])
    [c.numpy() for c in products(a, bs)]
    best = float("inf")
    for _ in range(3):  # the best of three: a busy moment of the machine is not its rate
        started = time.perf_counter()
        [c.numpy() for c in products(a, bs)]
        best = min(best, time.perf_counter() - started)
    return round(2 * n**3 * repeats / best / 1e9, 1)


def flops_per_sentence(model, source_tokens: float, output_steps: float) -> float:
    """Multiply-adds ×2 of the encoder per source token and the decoder per output step (the
    matrix products only; for a recurrent model its cells and output layer)."""
    if not hasattr(model, "cell_kind"):
        return transformer_flops(model, source_tokens, output_steps)
    e, u, v = model.embed_dim, model.units, model.tgt_vocab_size
    gates = 4 if model.cell_kind == "lstm" else 3
    recurrent = 2 * gates * u * (e + u)
    # input feeding widens the decoder's input by the attentional vector; attention adds its
    # combine layer (h_t and the context, read from a memory of width m); a tied output first
    # projects down to the embedding's width
    fed = 2 * gates * u * (e + 2 * u) if getattr(model, "input_feeding", False) else recurrent
    memory = u + u // 2 if getattr(model, "memory", "") == "keyed" else u
    combine = 2 * (u + memory) * u if getattr(model, "attention_layer", None) is not None else 0
    output = 2 * u * e + 2 * e * v if getattr(model, "tie_embeddings", False) else 2 * u * v
    decoder_step = fed + combine + output
    return source_tokens * recurrent * model.num_layers + output_steps * decoder_step


def transformer_flops(model, source_tokens: float, output_steps: float) -> float:
    layers = model.num_layers
    return transformer_flops_of(model.units, model.settings["ff_dim"], model.tgt_vocab_size, layers, layers, source_tokens, output_steps)


def transformer_flops_of(d: int, ff: int, v: int, encoder_layers: int, decoder_layers: int, s: float, t: float) -> float:
    """A Transformer's matrix products, from its sizes (width d, feed-forward ff, output
    vocabulary v) and token counts (s source tokens, t output steps): per source token, each
    encoder block's four projections, its attention over the source and its feed-forward; per
    output step, each decoder block's self-attention (projections, the cache), cross-attention
    (query and output projections, the source; its keys and values are computed once per
    sentence) and feed-forward, then the output layer."""
    encoder = s * encoder_layers * (2 * 4 * d * d + 2 * 2 * s * d + 2 * 2 * d * ff)
    cross_keys = s * decoder_layers * 2 * 2 * d * d
    decoder = t * decoder_layers * (2 * 4 * d * d + 2 * 2 * t * d + 2 * 2 * d * d + 2 * 2 * s * d + 2 * 2 * d * ff) + t * 2 * d * v
    return encoder + cross_keys + decoder


def measure_compiled(translator, sources) -> dict:
    """Compiled decoding of one run: every shape compiled first (what a long-running chat or batch
    job has done), then single-sentence latency and batch throughput (best of 3), greedy and beam 4."""
    import numpy as np

    started = time.perf_counter()
    for sentence in sources:
        translator.translate([sentence])
    translator.translate(sources)
    translator.translate(sources, beam=4)
    warm_up_s = time.perf_counter() - started
    times = []
    for sentence in sources:
        started = time.perf_counter()
        translator.translate([sentence])
        times.append(time.perf_counter() - started)
    figures = {"latency_p50_ms": percentile(times, 50), "latency_p90_ms": percentile(times, 90)}
    for beam in (1, 4):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            results = translator.translate(sources, beam=beam)
            best = min(best, time.perf_counter() - started)
        figures[f"beam{beam}_sentences_per_s"] = round(len(sources) / best, 1)
        if beam == 1:
            greedy_results = results
    source_tokens = np.mean([min(len(translator.src_vocab.encode(s)), translator.max_source_tokens) for s in sources])
    output_steps = np.mean([len(r.ids) + 1 for r in greedy_results])
    flops = flops_per_sentence(translator.model, source_tokens, output_steps)
    return {
        **figures, "warm_up_s": round(warm_up_s, 1), "mean_source_tokens": round(float(source_tokens), 1),
        "mean_output_steps": round(float(output_steps), 1), "mflops_per_sentence": round(flops / 1e6, 2),
        "greedy_gflops_per_s": round(flops * figures["beam1_sentences_per_s"] / 1e9, 2),
    }


def measure_guard(translator, sources) -> dict:
    """The repetition guard's cost: batch throughput with the tools' defaults (guard on) against the
    same search without it, greedy and beam 4, side by side (compiled first, then best of 3 each,
    the two interleaved so that a slower moment of the machine hits both)."""
    from engine.config import DecodeOptions

    figures = {}
    for beam in (1, 4):
        options = {guard: DecodeOptions(beam=beam, guard=guard) for guard in (True, False)}
        for guarded in options.values():
            translator.translate(sources, options=guarded)  # compile
        best = {True: float("inf"), False: float("inf")}
        for _ in range(3):
            for guard, chosen in options.items():
                started = time.perf_counter()
                translator.translate(sources, options=chosen)
                best[guard] = min(best[guard], time.perf_counter() - started)
        on, off = (round(len(sources) / best[g], 1) for g in (True, False))
        figures[f"beam{beam}"] = {"guard_sentences_per_s": on, "no_guard_sentences_per_s": off, "guard_over_no_guard": round(on / off, 3)}
    return figures


def compare_runs(args, peak: float) -> dict:
    """measure_compiled for each --compare run, on (the first --sentences of) its own test split."""
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out
    from engine.runs import RunFolder

    compared = {}
    for other in args.compare:
        run = RunFolder(other)
        sources = held_out(run.config(), "test")[0]
        sources = (sources * (1 + args.sentences // max(len(sources), 1)))[: args.sentences]
        translator = Translator(run)
        figures = measure_compiled(translator, sources)
        figures["greedy_share_of_matmul_rate"] = round(figures["greedy_gflops_per_s"] / peak, 4)
        figures["arch"] = run.config().arch
        if args.guard:
            figures["guard"] = measure_guard(translator, sources)
        compared[run.path.name] = figures
        log(f"{run.path.name}: {figures}")
    return compared


def train_quick_run(corpus: str, epochs: int, folder: Path):
    from engine.config import preset
    from engine.runs import RunFolder
    from engine.training.train import train

    log(f"training a tutorial-size model for {epochs} epochs on the whole corpus…")
    config = preset("tutorial", corpus=corpus, max_pairs=None, epochs=epochs)
    run = RunFolder(folder)
    train(config, run)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="trained run folder (tutorial size); default: train one first")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--tutorial-sentences", type=int, default=100, help="the tutorial loop is slow: time this many")
    parser.add_argument("--compare", nargs="*", default=[], metavar="RUN",
                        help="also time these runs' compiled decoding on their own test splits (e.g. checkpoints/default and a Transformer run)")
    parser.add_argument("--only-compare", action="store_true", help="time only the --compare runs (no tutorial-size model, no tutorial loop)")
    parser.add_argument("--guard", action="store_true", help="also time each --compare run with and without the repetition guard")
    args = parser.parse_args()

    import engine  # noqa: F401
    from benchmarks.tutorial import StepByStepDecoder
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out
    from engine.runs import RunFolder

    if args.only_compare:
        peak = matmul_gflops()
        print(json.dumps({"benchmark": "decode_speed", "machine": f"{os.cpu_count()} CPU cores", "matmul_gflops_per_s": peak,
                          "compared": compare_runs(args, peak), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
        return
    run = RunFolder(args.run) if args.run else train_quick_run(args.corpus, args.epochs, Path(tempfile.mkdtemp()) / "tutorial")
    sources, _ = held_out(run.config(), "test")
    sources = (sources * (1 + args.sentences // max(len(sources), 1)))[: args.sentences]
    translator = Translator(run)
    model = translator.model
    log(f"{len(sources)} test sentences; model {model.cell_kind} {model.units}, attention {model.attention_kind}")

    # --- the tutorial: one predict() per output token, one sentence at a time
    tutorial = StepByStepDecoder(model)
    tutorial.decode(translator.src_vocab.encode(sources[0]), translator.max_output_tokens)  # build
    times = []
    for sentence in sources[: args.tutorial_sentences]:
        started = time.perf_counter()
        tutorial.decode(translator.src_vocab.encode(sentence)[: translator.max_source_tokens], translator.max_output_tokens)
        times.append(time.perf_counter() - started)
    tutorial_figures = {
        "sentences_timed": len(times),
        "latency_p50_ms": percentile(times, 50),
        "latency_p90_ms": percentile(times, 90),
        "sentences_per_s": round(len(times) / sum(times), 2),
    }
    log(f"tutorial loop: {tutorial_figures}")

    # --- ours: the same weights through the compiled search
    ours = measure_compiled(translator, sources)
    log(f"ours: {ours}")
    peak = matmul_gflops()
    compared = compare_runs(args, peak)
    summary = {
        "benchmark": "decode_speed",
        "machine": f"{os.cpu_count()} CPU cores",
        "run": run.path.name,
        "model": {"cell": model.cell_kind, "units": model.units, "attention": model.attention_kind, "target_vocab": model.tgt_vocab_size},
        "tutorial": tutorial_figures,
        "ours": {k: ours[k] for k in ("latency_p50_ms", "latency_p90_ms", "beam1_sentences_per_s", "beam4_sentences_per_s", "warm_up_s")},
        "latency_speedup_p50": round(tutorial_figures["latency_p50_ms"] / ours["latency_p50_ms"], 1),
        "throughput_speedup_greedy": round(ours["beam1_sentences_per_s"] / tutorial_figures["sentences_per_s"], 1),
        "beam4_over_greedy": round(ours["beam4_sentences_per_s"] / ours["beam1_sentences_per_s"], 3),
        **{k: ours[k] for k in ("mean_source_tokens", "mean_output_steps", "mflops_per_sentence", "greedy_gflops_per_s")},
        "matmul_gflops_per_s": peak,
        "greedy_share_of_matmul_rate": round(ours["greedy_gflops_per_s"] / peak, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **({"compared": compared} if compared else {}),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
