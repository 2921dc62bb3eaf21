"""Chat start-up on a real pseudo-terminal: time to the first prompt, and to the first
translation of a line typed at once (TensorFlow and the model load in the background).

    python benchmarks/chat_startup.py [--model RUN] [--repeats 3]

Times: the prompt; a line typed at once (it waits for TensorFlow and the model); the next line
right after (it may wait for a length bucket the chat is compiling in the background); and a
line after that background warm-up is over.

A bare pseudo-terminal never answers prompt_toolkit's cursor-position requests, and
prompt_toolkit waits up to a second for each answer after a line is entered; a real terminal
answers at once. PROMPT_TOOLKIT_NO_CPR=1 stands in for that real terminal here.

Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

WARM_AFTER_S = 8.0


def measure(command: str, model: str | None, sentence: str) -> dict:
    history = Path(tempfile.mkdtemp()) / "history"
    args = ["--history-file", str(history)] + (["--model", model] if model else [])
    started = time.perf_counter()
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"}
    child = pexpect.spawn(command, args, encoding="utf-8", timeout=120, dimensions=(40, 120), env=env)
    child.delaybeforesend = None  # pexpect waits 50 ms before each send by default
    child.expect("›")
    prompt = time.perf_counter() - started
    child.sendline(sentence)
    child.expect(r"score -?[0-9.]+\s+[0-9.]+ ms")
    first = time.perf_counter() - started
    child.expect("›")
    sent = time.perf_counter()
    child.sendline(sentence)
    child.expect(r"score -?[0-9.]+\s+[0-9.]+ ms")
    second = time.perf_counter() - sent
    child.expect("›")
    time.sleep(WARM_AFTER_S)  # the chat compiles the other sentence lengths in the background
    sent = time.perf_counter()
    child.sendline(sentence)
    child.expect(r"score -?[0-9.]+\s+[0-9.]+ ms")
    warm = time.perf_counter() - sent
    child.expect("›")  # Ctrl-D typed before the prompt is back would meet the tty's cooked mode
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    shutil.rmtree(history.parent, ignore_errors=True)
    return {"first_prompt_s": prompt, "first_translation_s": first, "next_translation_s": second, "warm_translation_s": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sentence", default="I love you.")
    args = parser.parse_args()
    command = shutil.which("seq2seq-chat") or str(Path(sys.executable).parent / "seq2seq-chat")
    runs = []
    for i in range(args.repeats):
        runs.append(measure(command, args.model, args.sentence))
        print(f"[chat_startup] run {i + 1}: {runs[-1]}", file=sys.stderr, flush=True)
    summary = {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("first_prompt_s", "first_translation_s", "next_translation_s", "warm_translation_s")
    }
    print(json.dumps({"benchmark": "chat_startup", "machine": f"{os.cpu_count()} CPU cores", "repeats": args.repeats, **summary}))


if __name__ == "__main__":
    main()
