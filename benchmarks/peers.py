"""Peers on the same data and the same CPU minutes: JoeyNMT and OpenNMT-py trained beside ours on
our splits, and CTranslate2 decoding beside ours. benchmarks/peers/README.md says what each part
does and why; the run takes hours, so it comes in parts:

    python benchmarks/peers.py --part setup      # the peers' virtual environments under .peers/ (pinned; torch CPU)
    python benchmarks/peers.py --part export     # our splits in the peers' format, a SentencePiece model a side
    python benchmarks/peers.py --part train --minutes 12 --directions en-zh zh-en [--rows ours joeynmt onmt]
    python benchmarks/peers.py --part train --minutes 45 --directions en-zh
    python benchmarks/peers.py --part speed      # CTranslate2 (float32, int8) against ours, greedy and beam 4

Every row of --part train trains for --minutes of training (the clock starts at the peer's first
training step, as ours counts training time only), two rows side by side, each pinned to a core
of its own with one thread; then it decodes our test split with its own beam search (beam 4),
and the translations are scored as seq2seq-eval scores ours (benchmarks/peers_data.py). Each
row's figures go into benchmarks/results/peers.json as they come (a part adds to it). Progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.peers_data import LANGUAGES, RECIPES, export, held_out_set, score_file, write_lines  # noqa: E402
from benchmarks.peers_setup import ONE_THREAD, setup, versions  # noqa: E402
from benchmarks.peers_toolkits import TOOLKITS  # noqa: E402
from engine.config import preset  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
RESULTS = ROOT / "benchmarks" / "results" / "peers.json"


def log(message: str) -> None:
    print(f"[peers] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def recipe(direction: str, minutes: float):
    """Our recipe of the direction, on the shared Tatoeba files (as the shipped models were)."""
    return preset(RECIPES[direction], corpus=str(SHARED / "cmn-eng" / "cmn.txt"),
                  extra_corpora=[str(SHARED / "tatoeba-extra" / "tatoeba-extra.txt")], max_minutes=minutes)


def save_row(results_file: str, key: str, row: dict) -> None:
    """Add one row to peers.json, under a lock (two rows may finish at once) and atomically."""
    path, found = Path(results_file), versions()
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"benchmark": "peers", "rows": {}}
        results["rows"][key] = {**row, "date": time.strftime("%Y-%m-%d")}
        results["machine"] = f"{os.cpu_count()} CPU cores; training rows one core and one thread each, two side by side"
        results["versions"] = found
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, path)


# ----------------------------------------------------------------------------------------------
# Ours, in this environment


def train_ours(direction: str, minutes: float, data: Path, folder: Path, decode_only: bool = False) -> dict:
    """Our recipe for `minutes` of training, then beam 4 on the test split (no reranking: a new
    run has no decoding.json, and the peers rerank nothing either). decode_only: the run in
    `folder` has trained (its decoding failed): decode and score it again, without training."""
    # (TensorFlow only in the process that trains ours: not for the parts and peers' rows)
    import engine  # noqa: F401
    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator
    from engine.runs import RunFolder
    from engine.training.train import train, use_cores_op_by_op

    use_cores_op_by_op()
    run = RunFolder(folder / "run")
    if not decode_only:
        train(recipe(direction, minutes), run)
    elif not run.best_path.exists():
        raise SystemExit(f"{run.path}: no trained model to decode (--decode-only)")
    sources, _ = held_out_set(data)
    started = time.perf_counter()
    translations = Translator(run).translate(sources, options=DecodeOptions(beam=4))
    seconds = time.perf_counter() - started
    write_lines(folder / "test.hyp", (t.text for t in translations))
    facts = run.facts()
    return {"params": facts["params"], "training_minutes": round(facts["training_seconds"] / 60, 1),
            "decode_seconds": round(seconds, 1), "recipe": RECIPES[direction],
            "stopped": f"after the epoch that passes {minutes:g} min (its --max-minutes)"}


# ----------------------------------------------------------------------------------------------
# A row: a process of its own on one core


def child(args) -> None:
    """One row (--child ROW): train, decode the test split, score, save."""
    direction, name = args.direction, args.child
    folder = Path(args.out) / f"{args.minutes:g}min" / f"{name}-{direction}"
    if not args.decode_only:
        shutil.rmtree(folder, ignore_errors=True)  # (a rerun starts afresh: nothing of an earlier run is read back)
        folder.mkdir(parents=True)
    data = Path(args.out) / "data" / direction
    if name == "ours":
        facts = train_ours(direction, args.ours_max_minutes or args.minutes, data, folder, args.decode_only)
    else:
        toolkit = TOOLKITS[name](data, folder, LANGUAGES[direction], args.minutes)
        facts = toolkit.train_and_translate(args.minutes * 60, log)
    facts |= score_file(data, folder / "test.hyp")
    facts |= {"direction": direction, "budget_minutes": args.minutes, "row": name,
              "command": f"python benchmarks/peers.py --part train --minutes {args.minutes:g} --directions {direction} --rows {name}"
                         + (f" --ours-max-minutes {args.ours_max_minutes:g}" if name == "ours" and args.ours_max_minutes else "")}
    save_row(args.results, f"{name} {direction} {args.minutes:g}min", facts)
    log(f"{name} {direction} {args.minutes:g} min: BLEU {facts['bleu']} chrF {facts['chrf']} ({facts.get('params')} parameters)")


def train_rows(args) -> None:
    """Every (row, direction) as a process pinned to one core, as many at once as there are cores
    (two here): a row starts on the core the previous one left."""
    jobs = queue.Queue()
    for direction in args.directions:
        for row in args.rows:
            jobs.put((row, direction))
    failures = []

    def worker(core: int) -> None:
        while True:
            try:
                row, direction = jobs.get_nowait()
            except queue.Empty:
                return
            command = ["taskset", "-c", str(core), sys.executable, __file__, "--child", row, "--direction", direction,
                       "--minutes", str(args.minutes), "--out", args.out, "--results", args.results,
                       *(["--ours-max-minutes", str(args.ours_max_minutes)] if args.ours_max_minutes else []),
                       *(["--decode-only"] if args.decode_only else [])]
            log(f"core {core}: {row} {direction}, {args.minutes:g} min")
            environment = {**os.environ, **ONE_THREAD, "PYTHONUNBUFFERED": "1"}
            if subprocess.run(command, env=environment).returncode:
                failures.append(f"{row} {direction}")

    cores = sorted(os.sched_getaffinity(0))[: args.side_by_side]
    threads = [threading.Thread(target=worker, args=(core,)) for core in cores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"failed: {', '.join(failures)}")


def export_part(args) -> None:
    for direction in args.directions:
        facts = export(recipe(direction, 1.0), Path(args.out) / "data" / direction, direction)
        log(f"exported {direction}: {facts['counts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("setup", "export", "train", "speed"))
    parser.add_argument("--directions", nargs="+", choices=tuple(RECIPES), default=list(RECIPES))
    parser.add_argument("--rows", nargs="+", choices=("ours", *TOOLKITS), default=["ours", "joeynmt", "onmt"])
    parser.add_argument("--minutes", type=float, default=12.0, help="training budget of every row (default: 12)")
    parser.add_argument("--ours-max-minutes", type=float,
                        help="our run's --max-minutes (default: --minutes). A recipe without the budget schedule (default-zh-en) "
                             "stops at the end of the epoch that passes it: pass less to keep its training within --minutes")
    parser.add_argument("--decode-only", action="store_true",
                        help="with --part train --rows ours: decode and score the trained runs again, without training "
                             "(for a run whose decoding failed)")
    parser.add_argument("--side-by-side", type=int, default=2, help="rows trained at once, a core each (default: 2)")
    parser.add_argument("--out", default=str(ROOT / "checkpoints" / "peers"), help="folder for the data, runs and outputs")
    parser.add_argument("--results", default=str(RESULTS), help="the JSON file the rows are added to (default: benchmarks/results/peers.json)")
    parser.add_argument("--direction", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.decode_only and (args.part != "train" or args.rows != ["ours"]):
        parser.error("--decode-only is for --part train --rows ours (a peer's row trains and decodes in one go)")
    if args.child:
        child(args)
    elif args.part == "setup":
        setup(log)
        log(json.dumps(versions()))
    elif args.part == "export":
        export_part(args)
    elif args.part == "train":
        train_rows(args)
    elif args.part == "speed":
        from benchmarks.peers_speed import speed

        save_row(args.results, "speed", speed(Path(args.out), Path(args.results), log))
    else:
        parser.error("say which --part")


if __name__ == "__main__":
    main()
