"""seq2seq-serve under load, beside the same sentences through `Translator.translate`
in-process, in one run: one client's latency p50/p99, and sentences/s with 1, 8 and 64
concurrent clients (each sends one sentence a request, as an editor plugin does); the server's
peak RSS.

    python benchmarks/serve_speed.py [--model RUN] [--corpus PATH] [--requests 2000] [--beam 1]

Localhost only, bounded: each concurrency level sends `--requests` requests and stops. The
server runs in a child process on a free port. Progress goes to stderr; the last line of stdout
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"


def log(message: str) -> None:
    print(f"[serve_speed] {message}", file=sys.stderr, flush=True)


def start_server(model: str | None, beam: int):
    command = shutil.which("seq2seq-serve") or str(Path(sys.executable).parent / "seq2seq-serve")
    args = [command, "--port", "0", "--beam", str(beam), "--queue-size", "1024"] + (["--model", model] if model else [])
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, f"http://127.0.0.1:{found.group(1)}"
    raise SystemExit("seq2seq-serve did not start")


def post(base: str, text: str, source: str, target: str) -> float:
    body = json.dumps({"q": text, "source": source, "target": target}).encode()
    request = urllib.request.Request(base + "/translate", data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        json.loads(response.read())
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--beam", type=int, default=1)
    args = parser.parse_args()

    from engine.corpus import read_anki, split_pairs

    pairs, _ = read_anki(args.corpus)
    sentences = sorted({p.source for p in split_pairs(pairs, 0.05, 0.05, 1234).test})
    work = [sentences[i % len(sentences)] for i in range(args.requests)]

    import engine  # noqa: F401
    from engine.config import DecodeOptions
    from engine.runs import RunFolder, find_default_run
    from engine.translate import Translator
    from repl.serve import language_of

    run = RunFolder(args.model) if args.model else find_default_run()
    translator = Translator(run)
    source, target = language_of(translator.src_vocab), language_of(translator.tgt_vocab)
    translator.warm_up(DecodeOptions(beam=args.beam, guard=False), all_lengths=True)
    translator.translate(work, beam=args.beam)  # compile the batched shapes first: time only decoding
    started = time.perf_counter()
    translator.translate(work, beam=args.beam)
    in_process = {"sentences_per_s": round(len(work) / (time.perf_counter() - started), 1)}
    single = []
    for text in work[:200]:
        started = time.perf_counter()
        translator.translate([text], beam=args.beam)
        single.append(time.perf_counter() - started)
    in_process |= {"latency_p50_ms": round(1000 * percentile(single, 0.5), 2), "latency_p99_ms": round(1000 * percentile(single, 0.99), 2)}
    log(f"in-process: {in_process}")
    del translator

    process, base = start_server(str(run.path), args.beam)
    results = {}
    try:
        for clients in (1, 8, 64):  # compile the server's graphs for the shapes each level brings, untimed
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda text: post(base, text, source, target), work[: max(100, 4 * clients)]))
        latencies = [post(base, text, source, target) for text in work[:500]]
        results["one_client"] = {
            "latency_p50_ms": round(1000 * percentile(latencies, 0.5), 2),
            "latency_p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        }
        log(f"one client: {results['one_client']}")
        for clients in (1, 8, 64):
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda text: post(base, text, source, target), work))
            seconds = time.perf_counter() - started
            results[f"clients_{clients}"] = {"sentences_per_s": round(len(work) / seconds, 1), "seconds": round(seconds, 2)}
            log(f"{clients} clients: {results[f'clients_{clients}']}")
    finally:
        process.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(process.pid, 0)
    results["server_peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    results["in_process"] = in_process
    best = max(results[f"clients_{c}"]["sentences_per_s"] for c in (1, 8, 64))
    results["best_over_in_process"] = round(best / in_process["sentences_per_s"], 3)
    print(json.dumps({
        "benchmark": "serve_speed", "machine": f"{os.cpu_count()} CPU cores", "model": str(run.path),
        "beam": args.beam, "requests_per_level": len(work), **results,
    }))


if __name__ == "__main__":
    main()
