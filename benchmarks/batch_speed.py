"""seq2seq-batch on files: sentences/s on a 10,000-line file, and peak RSS on 10,000 against
1,000,000 lines (memory must stay flat: the file is streamed in chunks).

    python benchmarks/batch_speed.py [--model RUN] [--corpus PATH] [--big-lines 1000000]

Lines are English sentences from the corpus's test split, repeated. The installed
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
    started = time.perf_counter()
    process = subprocess.Popen(args)
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"seq2seq-batch failed on {source}")
    lines = sum(1 for _ in open(output, encoding="utf-8"))
    return {"lines": lines, "seconds": round(seconds, 2), "lines_per_s": round(lines / seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--big-lines", type=int, default=1_000_000)
    args = parser.parse_args()

    from engine.corpus import read_anki, split_pairs

    pairs, _ = read_anki(args.corpus)
    sentences = sorted({p.source for p in split_pairs(pairs, 0.05, 0.05, 1234).test})
    folder = Path(tempfile.mkdtemp())
    command = shutil.which("seq2seq-batch") or str(Path(sys.executable).parent / "seq2seq-batch")
    results = {}
    for name, count in (("small", args.lines), ("big", args.big_lines)):
        source = folder / f"{name}.txt"
        with open(source, "w", encoding="utf-8") as handle:
            for i in range(count):
                handle.write(sentences[i % len(sentences)] + "\n")
        print(f"[batch_speed] translating {count:,} lines…", file=sys.stderr, flush=True)
        results[name] = run_batch(command, source, args.model)
        print(f"[batch_speed] {name}: {results[name]}", file=sys.stderr, flush=True)
    results["small_beam4"] = run_batch(command, folder / "small.txt", args.model, beam=4)
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"benchmark": "batch_speed", "machine": f"{os.cpu_count()} CPU cores", **results}))


if __name__ == "__main__":
    main()
