"""Adaptation measured: a domain the corpus lacks (software UI strings, written for this project:
benchmarks/data/adapt-software-ui.tsv, 300 English–Chinese pairs), 200 of them kept as a person's
corrections in a translation memory and the shipped en→zh model adapted to them
(`seq2seq-train --adapt default`, engine/training/adapt.py); BLEU and chrF on the other 100
before and after, and on the general test split before and after (what was forgotten), decoded as
the tools decode (beam 4, the model's own alpha and reranking; no memory lookups, so the 100 are
the model's own work).

    python benchmarks/adapt_domain.py [--run checkpoints/default] [--max-minutes 5] [--epochs 4]

The general test split is read through $SEQ2SEQ_CORPORA (as is the replay of the base's own
training pairs). Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOMAIN = ROOT / "benchmarks" / "data" / "adapt-software-ui.tsv"


def log(message: str) -> None:
    print(f"[adapt_domain] {message}", file=sys.stderr, flush=True)


def domain_split(seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    pairs = [tuple(line.split("\t")) for line in DOMAIN.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(pairs)
    return pairs[:200], pairs[200:]


def scored(run, sources: list[str], references: list[list[str]]) -> dict:
    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import score

    translator = Translator(run, warn=lambda m: None)
    found = translator.translate(sources, options=DecodeOptions(beam=4))
    result = score([t.text for t in found], references)
    return {"bleu": result["bleu"], "chrf": result["chrf"], "sentences": len(sources), "examples": [t.text for t in found[:5]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--max-minutes", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    from repl.console import import_tensorflow

    import_tensorflow()
    from engine.data.files import Pair
    from engine.evaluation.evaluate import held_out
    from engine.memory.store import TranslationMemory
    from engine.runs import RunFolder
    from engine.training.adapt import adapt
    from engine.training.callbacks import TrainingReport

    base = RunFolder(args.run)
    corrections, held = domain_split()
    general_sources, general_references = held_out(base.config(), "test")
    with tempfile.TemporaryDirectory(prefix="adapt-domain-") as scratch:
        memory = TranslationMemory(Path(scratch) / "memory.sqlite")
        for source, target in corrections:
            memory.correct("en-zh", source, target, model=base.path.name)
        kept = [Pair(e.source, e.target) for e in memory.entries("en-zh")]
        log(f"{len(kept)} corrections in the memory; {len(held)} domain pairs held out; {len(general_sources)} general test sentences")
        held_sources, held_references = [s for s, _ in held], [[t] for _, t in held]
        before = {"domain": scored(base, held_sources, held_references), "general": scored(base, general_sources, general_references)}
        log(f"before: domain BLEU {before['domain']['bleu']}, general BLEU {before['general']['bleu']}")
        adapted = RunFolder(Path(scratch) / "adapted")
        started = time.perf_counter()
        facts = adapt(base, adapted, kept, max_minutes=args.max_minutes, epochs=args.epochs, report=TrainingReport())
        minutes = (time.perf_counter() - started) / 60
        after = {"domain": scored(adapted, held_sources, held_references), "general": scored(adapted, general_sources, general_references)}
        epochs = adapted.facts().get("epochs_done")
        log(f"after {minutes:.1f} min ({epochs} epochs): domain BLEU {after['domain']['bleu']}, general BLEU {after['general']['bleu']}")
    print(json.dumps({
        "benchmark": "adapt_domain", "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.python_version()}",
        "command": "python benchmarks/adapt_domain.py", "base": base.path.name, "domain_file": DOMAIN.name,
        "corrections": len(kept), "held_out": len(held), "general_test": len(general_sources), "adaptation": facts,
        "minutes": round(minutes, 1), "epochs": epochs, "before": before, "after": after,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "domain_examples": [{"source": s, "reference": t, "before": b, "after": a}
                            for (s, t), b, a in zip(held[:5], before["domain"]["examples"], after["domain"]["examples"])],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
