"""Quality side by side: the tutorial's model against ours without and with attention, each
trained for the same wall time on the same machine, scored on the same held-out test split.

    python benchmarks/quality.py [--minutes 6] [--corpus PATH]

Rows: `tutorial` (its preset: char level, LSTM 256, rmsprop, batch 64, its 10,000 pairs), our
word-level LSTM and GRU without attention, our bidirectional LSTM encoder with Luong attention as
it shipped first (attention read out on top of a decoder that starts from the encoder's final
states), the same with input feeding, scaled scores and a decoder started from zeros, that plus
extra training pairs made of two joined pairs (the previous default preset), and the default
preset (scores keyed by word windows, the decoder started from the encoder's states), and the
transformer preset (3 + 3 pre-norm blocks 128 wide, 4 heads). The shipped default
model (trained longer) is added from its own eval.json when present. Scores: sacrebleu BLEU (tokenize="zh") and chrF on the test split of the whole corpus,
greedy and beam 4, the beam-4 BLEU of sources of ≥ 10 words, and the name alignment (the share
of output characters of names like 汤姆 whose attention peaks on the English name). Each run's
folder is kept under --out.

Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "cmn-eng" / "cmn.txt"

ROWS = {
    "tutorial": ("tutorial", {}),
    "lstm": ("default", {"attention": "none", "bidirectional": False, "join_fraction": 0.0}),
    "gru": ("default", {"attention": "none", "bidirectional": False, "cell": "gru", "join_fraction": 0.0}),
    "lstm+attention": ("default", {"input_feeding": False, "decoder_init": "encoder", "memory": "encoder", "embed_dim": 128, "join_fraction": 0.0}),
    "lstm+aligned-attention": ("default", {"decoder_init": "zeros", "memory": "encoder", "join_fraction": 0.0}),
    "previous-default": ("default", {"decoder_init": "zeros", "memory": "encoder"}),
    "default-preset": ("default", {}),
    "transformer": ("transformer", {}),
}


def log(message: str) -> None:
    print(f"[quality] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--minutes", type=float, default=6.0, help="training wall time of every row")
    parser.add_argument("--out", default=str(ROOT / "checkpoints" / "quality"), help="folder for the runs")
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    args = parser.parse_args()

    import engine  # noqa: F401
    from engine.config import preset
    from engine.data.corpus import load_split
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import evaluate, held_out, name_lexicon
    from engine.runs import RunFolder, checkpoints_dir
    from engine.training.train import train

    # One test split for every row: the whole corpus's. The split is keyed on the source sentence,
    # so the tutorial's 10,000-pair subset puts none of these sources in its training split either.
    sources, references = held_out(preset("default", corpus=args.corpus, extra_corpora=[]), "test")
    lexicon = name_lexicon(load_split(preset("default", corpus=args.corpus, extra_corpora=[]))[0].train)
    log(f"{len(sources)} test sources; {args.minutes:g} minutes of training per row")

    results = {}
    for name in args.rows:
        preset_name, overrides = ROWS[name]
        config = preset(preset_name, corpus=args.corpus, extra_corpora=[], epochs=1000, max_minutes=args.minutes, patience=0, **overrides)
        folder = RunFolder(Path(args.out) / name)
        if folder.config_path.exists():
            raise SystemExit(f"{folder.path} exists; remove it or pass another --out")
        log(f"training {name}…")
        started = time.perf_counter()
        train(config, folder)
        wall = time.perf_counter() - started
        translator = Translator(folder)
        greedy = evaluate(translator, sources, references, beam=1)
        beam = evaluate(translator, sources, references, beam=4, lexicon=lexicon)
        long = next((row for row in beam["by_length"] if row["bucket"].startswith("≥")), {})
        facts = folder.facts()
        results[name] = {
            "params": facts["params"],
            "epochs": facts["epochs_done"],
            "train_minutes": round(facts["training_seconds"] / 60, 1),
            "wall_minutes": round(wall / 60, 1),
            "test_sentences": len(sources),
            "bleu_greedy": greedy["bleu"], "chrf_greedy": greedy["chrf"],
            "bleu_beam4": beam["bleu"], "chrf_beam4": beam["chrf"],
            "bleu_beam4_10_words": long.get("bleu"), "sentences_10_words": long.get("sentences"),
            "name_alignment": beam["alignment"]["name_alignment"],
            "peaks_in_last_fifth": beam["alignment"]["peaks_in_last_fifth"],
            "bleu_signature": beam["bleu_signature"],
        }
        log(f"{name}: {results[name]}")

    default = RunFolder(checkpoints_dir() / "default")
    if default.eval_path.exists():
        recorded = default.evaluation().get("test", {})
        facts = default.facts()
        results["default (shipped)"] = {
            "params": facts.get("params"), "epochs": facts.get("epochs_done"),
            "train_minutes": round(facts.get("training_seconds", 0) / 60, 1),
            "bleu_beam4": recorded.get("bleu"), "chrf_beam4": recorded.get("chrf"),
            "bleu_beam4_10_words": next((r["bleu"] for r in recorded.get("by_length", []) if r["bucket"].startswith("≥")), None),
            "name_alignment": (recorded.get("alignment") or {}).get("name_alignment"),
            "note": "from checkpoints/default/eval.json (trained longer)",
        }
    cores = len(os.sched_getaffinity(0))  # `taskset` may give it fewer than the machine has
    machine = f"{cores} CPU core{'s' if cores > 1 else ''}" + (f" of {os.cpu_count()}" if cores < os.cpu_count() else "")
    print(json.dumps({"benchmark": "quality", "machine": machine, "minutes_per_row": args.minutes, "rows": results}))


if __name__ == "__main__":
    main()
