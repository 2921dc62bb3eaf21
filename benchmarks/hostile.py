"""A running seq2seq-serve under the hostile inputs of issue #30: while each is being processed,
how long do `/health` and a one-sentence `/translate` take (the worst of them), and what happens
to the server's memory after 60 requests that each bring a different 256-term glossary.

    python benchmarks/hostile.py [--model RUN]

The inputs: `/file` with 400 KB of `<a` repeated, with 1 MB each of unclosed `<!--`, `</` and `<?`,
with one 200 KB line of `a.a.…`, with 20,000 sentences `a. ` on 1,000-character lines; `/translate`
with 5,000 characters of `a. ` (pySBD's worst case) and of `a.a.…` (the old e-mail pattern's). Each
hostile request is sent from its own thread; meanwhile a probe sends `/health` and `/translate
"Hello."` back to back until the hostile request has been answered. The server runs in a child
process on a free localhost port (the shipped models); memory is read from /proc (VmRSS, VmHWM).
Progress on stderr; the last line of stdout is one JSON object, also written to
benchmarks/results/hostile.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serve_speed import log as _log  # noqa: E402
from benchmarks.serve_speed import start_server  # noqa: E402


def log(message: str) -> None:
    _log(f"(hostile) {message}")


def memory(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) // 1024  # MB
    return fields


def hostile_requests() -> dict:
    sentences = "\n".join("a. " * 333 for _ in range(60))
    return {
        "file: 400 KB of '<a'": ("file", "tags.html", "<a" * 200_000),
        "file: 1 MB of unclosed '<!--'": ("file", "comments.html", "<!--" * 250_000),
        "file: 1 MB of '</'": ("file", "ends.html", "</" * 500_000),
        "file: 1 MB of '<?'": ("file", "pi.html", "<?" * 500_000),
        "file: one 200 KB line of 'a.a.'": ("file", "line.txt", "a." * 100_000 + "\n"),
        "file: 20,000 'a. ' sentences on 60 lines": ("file", "sentences.txt", sentences),
        "translate: 5,000 characters of 'a. '": ("translate", None, ("a. " * 1700)[:5000]),
        "translate: 5,000 characters of 'a.a.'": ("translate", None, ("a." * 2500)[:5000]),
    }


def send(client: httpx.Client, kind: str, name: str | None, body: str) -> str:
    if kind == "file":
        answer = client.post("/file", files={"file": (name, body.encode())}, data={"source": "en", "target": "zh"})
        last = answer.text.strip().splitlines()[-1] if answer.text.strip() else "{}"
        return f"{answer.status_code} {json.loads(last).get('error', 'translated')[:80]}"
    answer = client.post("/translate", json={"q": body, "source": "en", "target": "zh"})
    return f"{answer.status_code}"


def probe_while(base: str, busy: threading.Event) -> dict:
    """Worst /health and one-sentence /translate latency while `busy` is set."""
    worst = {"health": 0.0, "translate": 0.0}
    count = 0
    with httpx.Client(base_url=base, timeout=300) as client:
        while busy.is_set() or count == 0:
            for route, call in (("health", lambda: client.get("/health")),
                                ("translate", lambda: client.post("/translate", json={"q": "Hello.", "source": "en", "target": "zh"}))):
                started = time.perf_counter()
                assert call().status_code == 200
                worst[route] = max(worst[route], time.perf_counter() - started)
            count += 1
            time.sleep(0.05)
    return {**{k: round(v, 3) for k, v in worst.items()}, "probes": count}


def run_hostile(base: str) -> list[dict]:
    rows = []
    for label, (kind, name, body) in hostile_requests().items():
        busy, outcome = threading.Event(), {}
        busy.set()

        def hostile(kind=kind, name=name, body=body, outcome=outcome, busy=busy):
            started = time.perf_counter()
            with httpx.Client(base_url=base, timeout=600) as client:
                outcome["answer"] = send(client, kind, name, body)
            outcome["seconds"] = round(time.perf_counter() - started, 2)
            busy.clear()

        thread = threading.Thread(target=hostile)
        thread.start()
        worst = probe_while(base, busy)
        thread.join()
        rows.append({"input": label, **outcome, "worst_health_s": worst["health"], "worst_translate_s": worst["translate"], "probes": worst["probes"]})
        log(json.dumps(rows[-1], ensure_ascii=False))
    return rows


def run_glossaries(base: str, pid: int, requests: int = 60, terms: int = 256) -> dict:
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(3):  # warm: the first requests allocate what every request needs
            client.post("/translate", json={"q": "The cat sat on the mat.", "source": "en", "target": "zh", "glossary": {"cat": "猫"}})
        before = memory(pid)
        for k in range(requests):
            glossary = {f"term{k}x{j}": f"术语{k}乙{j}" for j in range(terms - 1)} | {"cat": f"猫{k}"}
            answer = client.post("/translate", json={"q": "The cat sat on the mat.", "source": "en", "target": "zh", "glossary": glossary})
            assert answer.status_code == 200, answer.text
        after = memory(pid)
    return {"requests": requests, "terms": terms, "rss_before_mb": before["VmRSS"], "rss_after_mb": after["VmRSS"],
            "growth_mb": after["VmRSS"] - before["VmRSS"], "peak_mb": after["VmHWM"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="run folder (default: the shipped models)")
    args = parser.parse_args()
    process, base = start_server(args.model, 4, extra=["--max-body-bytes", "4000000"])
    try:
        rows = run_hostile(base)
        glossaries = run_glossaries(base, process.pid)
        log(json.dumps(glossaries))
    finally:
        process.terminate()
        process.wait(30)
    result = {"benchmark": "hostile", "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/hostile.py",
              "hostile": rows, "glossaries": glossaries,
              "worst_health_s": max(r["worst_health_s"] for r in rows), "worst_translate_s": max(r["worst_translate_s"] for r in rows)}
    (ROOT / "benchmarks" / "results" / "hostile.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
