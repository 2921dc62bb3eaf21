"""What the confidence word is worth on held-out sentences: of the worst tenth of the test split
(by sentence chrF against the references), the share the shipped models flag "low", against the
share of all test sentences they flag "low" (thresholds chosen on the valid split by
`seq2seq-eval RUN --calibrate-confidence`; engine/decoding/confidence.py). Both directions,
decoded as the tools decode by default (beam 4, each model's own alpha and reranking).

    python benchmarks/confidence.py [--runs checkpoints/default checkpoints/default-zh-en]

Sentences: each run's test split (through $SEQ2SEQ_CORPORA). Progress goes to stderr; the last
line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[confidence] {message}", file=sys.stderr, flush=True)


def measure(path: str) -> dict:
    from engine.config import DecodeOptions
    from engine.decoding.confidence import sentence_chrfs, token_log_prob, usefulness
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out, score

    translator = Translator(path, warn=lambda m: None)
    thresholds = translator.defaults.confidence
    if not thresholds:
        raise SystemExit(f"{path}: no confidence thresholds (seq2seq-eval {path} --calibrate-confidence)")
    sources, references = held_out(translator.config, "test")
    log(f"{path}: {len(sources)} test sentences")
    started = time.perf_counter()
    found = translator.translate(sources, options=DecodeOptions(beam=4))
    hypotheses = [t.text for t in found]
    chrfs = sentence_chrfs(hypotheses, references)
    levels = Counter(t.confidence for t in found)
    by_level = {}
    for level in ("low", "medium", "high"):
        chosen = [i for i, t in enumerate(found) if t.confidence == level]
        if chosen:
            part = score([hypotheses[i] for i in chosen], [references[i] for i in chosen])
            by_level[level] = {"sentences": len(chosen), "bleu": part["bleu"], "chrf": part["chrf"]}
    return {
        "run": Path(path).name, "direction": translator.direction, "split": "test", "decoding": {"beam": 4, "alpha": translator.alpha(DecodeOptions(beam=4))},
        "thresholds": {"low": thresholds["low"], "high": thresholds["high"]}, "valid": thresholds.get("measured", {}),
        "test": usefulness([token_log_prob(t) for t in found], chrfs, thresholds),
        "levels": {k or "none": v for k, v in levels.items()}, "by_level": by_level, "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=[str(ROOT / "checkpoints" / "default"), str(ROOT / "checkpoints" / "default-zh-en")])
    args = parser.parse_args()
    from repl.console import import_tensorflow

    import_tensorflow()
    rows = [measure(path) for path in args.runs]
    for row in rows:
        t = row["test"]
        log(f"{row['run']}: worst {t['worst_share']:.0%} flagged low {t['worst_flagged']:.0%}, all {t['all_flagged']:.0%}")
    print(json.dumps({"benchmark": "confidence", "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.python_version()}",
                      "command": "python benchmarks/confidence.py", "runs": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
