"""seq2seq-batch on files: sentences/s on a 10,000-line file, and peak RSS on 10,000 against
1,000,000 lines (memory must stay flat: the file is streamed in chunks); and both directions:
lines/s of an English file, a Chinese file and a file mixing the two line by line (each line
routed to the model of its script), side by side with the shipped models.

    python benchmarks/batch_speed.py [--model RUN] [--corpus PATH] [--big-lines 1000000]
                                     [--parts small,big,beam4,directions]

Lines are English sentences from the corpus's test split (Chinese: their translations), repeated. The installed
`seq2seq-batch` runs in a child process; its peak RSS is the child's.
Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"


def run_batch(command, source: Path, model: str | None, beam: int = 1) -> dict:
    output = source.with_suffix(".out")
    args = [command, str(source), "-o", str(output), "--force", "--quiet", "--beam", str(beam)] + (["--model", model] if model else [])
    return run_timed(args, output)


def run_timed(args: list[str], output: Path) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(args)
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"seq2seq-batch failed: {' '.join(args)}")
    lines = sum(1 for _ in open(output, encoding="utf-8"))
    return {"lines": lines, "seconds": round(seconds, 2), "lines_per_s": round(lines / seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--big-lines", type=int, default=1_000_000)
    parser.add_argument("--parts", default="small,big,beam4,directions", help="which measurements, comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    from engine.data.corpus import split_pairs
    from engine.data.files import read_anki

    pairs, _ = read_anki(args.corpus)
    test = sorted({(p.source, p.target) for p in split_pairs(pairs, 0.05, 0.05, 1234).test})
    sentences = sorted({source for source, _ in test})
    folder = Path(tempfile.mkdtemp())
    command = shutil.which("seq2seq-batch") or str(Path(sys.executable).parent / "seq2seq-batch")
    results = {}
    for name, count in (("small", args.lines), ("big", args.big_lines)):
        if name not in parts and not (name == "small" and "beam4" in parts):
            continue
        source = folder / f"{name}.txt"
        write_lines(source, sentences, count)
        print(f"[batch_speed] translating {count:,} lines…", file=sys.stderr, flush=True)
        results[name] = run_batch(command, source, args.model)
        print(f"[batch_speed] {name}: {results[name]}", file=sys.stderr, flush=True)
    if "beam4" in parts:
        results["small_beam4"] = run_batch(command, folder / "small.txt", args.model, beam=4)
    if "directions" in parts:
        results["directions"] = directions(command, folder, test, args.lines)
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"benchmark": "batch_speed", "machine": f"{os.cpu_count()} CPU cores", **results}))


def write_lines(path: Path, sentences: list[str], count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(sentences[i % len(sentences)] + "\n")


def directions(command, folder: Path, test: list[tuple[str, str]], count: int) -> dict:
    """English-only, Chinese-only and mixed (alternating lines) files through the shipped models
    with --direction auto (the default): what routing each line costs."""
    english = [source for source, _ in test]
    chinese = [target for _, target in test]
    mixed = [line for pair in zip(english, chinese) for line in pair]
    figures = {}
    for name, lines in (("english", english), ("chinese", chinese), ("mixed", mixed)):
        source = folder / f"direction-{name}.txt"
        write_lines(source, lines, count)
        print(f"[batch_speed] {name}: {count:,} lines, --direction auto…", file=sys.stderr, flush=True)
        output = source.with_suffix(".out")
        figures[name] = run_timed([command, str(source), "-o", str(output), "--force", "--quiet"], output)
        print(f"[batch_speed] {name}: {figures[name]}", file=sys.stderr, flush=True)
    single = (figures["english"]["lines_per_s"] + figures["chinese"]["lines_per_s"]) / 2
    figures["mixed_vs_single_direction"] = round(figures["mixed"]["lines_per_s"] / single, 2)
    return figures


if __name__ == "__main__":
    main()
