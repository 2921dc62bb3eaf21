"""seq2seq-serve under load, beside the same sentences through `Translator.translate`
in-process, in one run: one client's latency p50/p99, and sentences/s with 1, 8 and 64
concurrent clients (each sends one sentence a request, as an editor plugin does); the server's
peak RSS.

    python benchmarks/serve_speed.py [--model RUN] [--corpus PATH] [--requests 2000] [--beam 1]

The load check (`--load`) instead: `--clients` (200) concurrent clients sending requests back to
back for `--seconds` (30) while `--slow` (500) connections send their headers a byte a second
(reconnecting whenever the server closes them); it reports how many requests were answered
(200), refused (503, or no connection), anything else by status, the p50/p99 latency of the
answered ones, the server's peak memory, and whether any request was answered 500:

    python benchmarks/serve_speed.py --load [--seconds 30] [--clients 200] [--slow 500] [--model RUN]

Localhost only, bounded: each concurrency level sends `--requests` requests and stops; the load
check stops after `--seconds`. The server runs in a child process on a free port. Progress goes to
stderr; the last line of stdout is one JSON object with every figure.
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


def start_server(model: str | None, beam: int, extra=()):
    command = shutil.which("seq2seq-serve") or str(Path(sys.executable).parent / "seq2seq-serve")
    args = [command, "--port", "0", "--beam", str(beam), "--queue-size", "1024", *extra] + (["--model", model] if model else [])
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, f"http://127.0.0.1:{found.group(1)}"
    raise SystemExit("seq2seq-serve did not start")


def held_out_sentences(corpus: str) -> list[str]:
    from engine.data.corpus import split_pairs
    from engine.data.files import read_anki

    pairs, _ = read_anki(corpus)
    return sorted({p.source for p in split_pairs(pairs, 0.05, 0.05, 1234).test})


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
    parser.add_argument("--load", action="store_true", help="run the load check instead (see above)")
    parser.add_argument("--seconds", type=float, default=30.0, help="load check: how long the clients send (default: 30)")
    parser.add_argument("--clients", type=int, default=200, help="load check: concurrent clients (default: 200)")
    parser.add_argument("--slow", type=int, default=500, help="load check: slow connections (default: 500)")
    args = parser.parse_args()
    if args.load:
        return load_check(args)

    sentences = held_out_sentences(args.corpus)
    work = [sentences[i % len(sentences)] for i in range(args.requests)]

    import engine  # noqa: F401
    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator
    from engine.runs import RunFolder, find_default_run
    from repl.serve.api import language_of

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


# ----------------------------------------------------------------------------------------------
# The load check: many clients and many slow connections at once


class Tally:
    def __init__(self):
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.no_connection = self.dropped = self.slow_opened = self.slow_closed = self.slow_refused = 0


async def read_answer(reader) -> tuple[int, dict]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers


async def client(port: int, bodies: list[bytes], deadline: float, tally: Tally, offset: int) -> None:
    """Requests back to back on a keep-alive connection (a new one whenever it is closed)."""
    import asyncio

    writer, i = None, offset
    while time.monotonic() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            except (OSError, asyncio.TimeoutError):
                tally.no_connection += 1
                await asyncio.sleep(0.2)
                continue
        body, i = bodies[i % len(bodies)], i + 1
        head = b"POST /translate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        started = time.perf_counter()
        try:
            writer.write(head + body)
            await writer.drain()
            status, headers = await asyncio.wait_for(read_answer(reader), 120)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError):
            tally.dropped += 1
            writer.close()
            writer = None
            continue
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status == 200:
            tally.latencies.append(time.perf_counter() - started)
        if headers.get("connection") == "close":
            writer.close()
            writer = None
        if status != 200:
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def slow_connection(port: int, deadline: float, tally: Tally) -> None:
    """Headers a byte a second, again on a new connection whenever the server closes this one."""
    import asyncio

    head = b"POST /translate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Slow: " + b"z" * 200
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        except (OSError, asyncio.TimeoutError):
            tally.slow_refused += 1
            await asyncio.sleep(1)
            continue
        tally.slow_opened += 1
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(4096), min(1.0, max(0.01, deadline - time.monotonic()))) or reader.at_eof():
                        tally.slow_closed += 1
                        break
                except asyncio.TimeoutError:
                    if time.monotonic() >= deadline:
                        break
        except OSError:
            tally.slow_closed += 1
        writer.close()


def load_check(args) -> None:
    import asyncio
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * (args.clients + args.slow) + 256)), hard))
    try:
        sentences = held_out_sentences(args.corpus)[:500]
    except (OSError, ValueError):
        sentences = ["I love you.", "Tom wants to visit Barcelona next summer.", "It costs 25 dollars.", "Where is the station?"]
    import engine  # noqa: F401
    from engine.runs import RunFolder, find_default_run

    run = RunFolder(args.model) if args.model else find_default_run()
    process, base = start_server(str(run.path), args.beam)
    port = int(base.rsplit(":", 1)[1])
    bodies = [json.dumps({"q": s, "source": "auto", "target": "zh" if not re.search(r"[\u4e00-\u9fff]", s) else "en"}).encode() for s in sentences]
    tally = Tally()

    async def run_all():
        for text in sentences[:50]:  # compile the shapes a single sentence brings, untimed
            await asyncio.to_thread(post, base, text, "auto", json.loads(bodies[0])["target"])
        deadline = time.monotonic() + args.seconds
        slow = [asyncio.create_task(slow_connection(port, deadline, tally)) for _ in range(args.slow)]
        await asyncio.sleep(min(2.0, args.seconds / 4))  # the slow ones first: they are there when the clients come
        started = time.monotonic()
        await asyncio.gather(*(client(port, bodies, deadline, tally, i) for i in range(args.clients)))
        await asyncio.gather(*slow)
        return time.monotonic() - started

    try:
        log(f"load: {args.clients} clients for {args.seconds:g} s, {args.slow} slow connections, against {base}")
        seconds = asyncio.run(run_all())
        healthy = post_health(base)
    finally:
        process.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(process.pid, 0)
    answered = tally.statuses.get(200, 0)
    refused = tally.statuses.get(503, 0) + tally.no_connection
    print(json.dumps({
        "benchmark": "serve_speed_load", "machine": f"{os.cpu_count()} CPU cores", "model": str(run.path), "beam": args.beam,
        "seconds": args.seconds, "clients": args.clients, "slow_connections": args.slow,
        "answered": answered, "refused": refused, "dropped": tally.dropped,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())}, "answered_500": tally.statuses.get(500, 0),
        "answered_per_s": round(answered / seconds, 1),
        "latency_p50_ms": round(1000 * percentile(tally.latencies, 0.5), 1) if tally.latencies else None,
        "latency_p99_ms": round(1000 * percentile(tally.latencies, 0.99), 1) if tally.latencies else None,
        "slow_opened": tally.slow_opened, "slow_closed_by_server": tally.slow_closed, "slow_refused": tally.slow_refused,
        "healthy_after": healthy, "server_exit_status": os.waitstatus_to_exitcode(status),
        "server_peak_rss_mb": round(usage.ru_maxrss / 1024),
    }))


def post_health(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=10) as response:
            return json.loads(response.read()).get("status") == "ok"
    except OSError:
        return False


if __name__ == "__main__":
    main()
