"""What reverse-model reranking costs: sentences/s of plain beam search against beam search
reranked by the reverse model, side by side in one process, on the same sentences, with the
machine's matrix-multiply rate measured in the same run and the peak memory.

    python benchmarks/rerank_cost.py [--run checkpoints/default] [--reverse default-zh-en] [--sentences 500]

The run's decoding.json names the reverse model (seq2seq-eval RUN --tune-decoding); --reverse
overrides it. Sentences: the run's test split (through $SEQ2SEQ_CORPORA). Progress goes to
stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def log(message: str) -> None:
    print(f"[rerank_cost] {message}", file=sys.stderr, flush=True)


def rate(translator, sources, options, rounds: int = 2) -> float:
    """Best sentences/s of `rounds` passes (the first pass compiles and is not counted)."""
    translator.translate(sources[:8], options=options)
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        translator.translate(sources, options=options)
        best = max(best, len(sources) / (time.perf_counter() - started))
    return round(best, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--reverse", help="the reverse run (default: the one the run's decoding.json names)")
    parser.add_argument("--sentences", type=int, default=500)
    args = parser.parse_args()

    from decode_speed import matmul_gflops

    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out

    translator = Translator(args.run, warn=lambda m: None)
    if args.reverse:
        translator.defaults.rerank_with = args.reverse
    sources, _ = held_out(translator.config, "test")
    sources = sources[: args.sentences]
    log(f"{len(sources)} test sentences of {args.run}")
    plain = DecodeOptions(beam=4, rerank=False)
    reranked = DecodeOptions(beam=4, rerank=True)
    translator.channel()  # (loaded before timing)
    rows = {}
    for name, options in (("beam 4", plain), ("beam 4 + reverse-model reranking", reranked), ("greedy", DecodeOptions(beam=1, rerank=False))):
        rows[name] = rate(translator, sources, options)
        log(f"{name}: {rows[name]} sentences/s")
    gflops = matmul_gflops()
    figures = {
        "benchmark": "rerank_cost", "run": Path(args.run).name, "reverse": str(translator.defaults.rerank_with),
        "sentences": len(sources), "sentences_per_second": rows,
        "reranked_vs_plain_beam": round(rows["beam 4 + reverse-model reranking"] / rows["beam 4"], 3),
        "matmul_gflops": gflops, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
