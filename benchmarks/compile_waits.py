"""Waits for compilation at translation time: the first translation, then the worst wait for any
later request (a sentence of a new length, a batch of a new size, another beam size), for the
translator's graph modes side by side in one run.

    python benchmarks/compile_waits.py [--model RUN] [--modes xla dynamic]

xla: one XLA-compiled graph per padded batch size × source length bucket × beam (the fastest per
sentence once compiled, but each new shape compiles for seconds); dynamic: one graph per
strategy traced once, with every shape left open (no XLA), which no later request recompiles.
Each mode runs in a fresh process. The requests are the same for both: test-split-like English
sentences of 1 to 60 words, batches of 1, 3, 9, 40 and 200 sentences, beams 4, 1 and 8. Progress
goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORDS = "the cat saw a dog near our old house and then it ran to the park with my friend".split()


def sentence(length: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(length)).capitalize() + "."


def child(model: str, mode: str) -> dict:
    import engine  # noqa: F401
    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator

    started = time.perf_counter()
    translator = Translator(model, graphs=mode)
    translator.translate([sentence(5)], options=DecodeOptions())
    first = time.perf_counter() - started
    waits = {}
    requests = [(f"{n} words", [sentence(n)], DecodeOptions()) for n in (3, 9, 17, 25, 33, 41, 49, 60)]
    requests += [(f"batch of {b}", [sentence(4 + i % 20) for i in range(b)], DecodeOptions()) for b in (3, 9, 40, 200)]
    requests += [(f"beam {k}", [sentence(7)], DecodeOptions(beam=k)) for k in (1, 8)]
    for label, lines, options in requests:
        began = time.perf_counter()
        translator.translate(lines, options=options)
        waits[label] = round(time.perf_counter() - began, 3)
    warm = []
    for n in range(1, 41):  # once every shape has been seen: one sentence at a time
        began = time.perf_counter()
        translator.translate([sentence(n)], options=DecodeOptions())
        warm.append(time.perf_counter() - began)
    return {"first_translation_s": round(first, 2), "later_waits_s": waits, "worst_later_wait_s": max(waits.values()),
            "warm_single_sentence_p50_ms": round(1000 * statistics.median(warm), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--modes", nargs="+", default=["xla", "dynamic"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.child)))
        return
    rows = {}
    for mode in args.modes:
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--model", args.model], capture_output=True, text=True, check=True)
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"[compile_waits] {mode}: {rows[mode]}", file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "compile_waits", "model": args.model, "rows": rows}))


if __name__ == "__main__":
    main()
