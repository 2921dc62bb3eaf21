"""Robustness on what people actually type: numbers, names the corpus never had, paragraphs, and
outputs that loop, for each direction, the shipped models beside others in one run.

    python benchmarks/robustness.py [--en-zh RUN] [--zh-en RUN] [--before-en-zh RUN --before-zh-en RUN]
                                    [--corpora DIR]

The sentences of benchmarks/data/robustness.json were written for this benchmark (none is from
a corpus or used in training). For each direction:
- numbers: the share of the digit strings of the sources (1,200 / 7:45 / 555-1234) that the
  output has exactly;
- names: the share of the listed names (unknown to the training data, or nearly) that the
  output has as written;
- paragraphs: the share of multi-sentence lines whose output has at least as many sentences;
- repeats: the share of outputs on the held-out test split (the first corpus's, through
  $SEQ2SEQ_CORPORA or --corpora) that repeat a phrase (Chinese: 4 characters; English: 3 words,
  twice), beside the share of the references that do.
"before" runs are decoded as the tools did before the repetition guard (guard off); the others
with the tools' defaults (beam 4, guard on). Progress goes to stderr; the last line of stdout is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SENTENCES = Path(__file__).parent / "data" / "robustness.json"
DIGITS = re.compile(r"\d+(?:[.,:/-]\d+)*")


def log(message: str) -> None:
    print(f"[robustness] {message}", file=sys.stderr, flush=True)


def repeats(text: str, chinese: bool) -> bool:
    """Whether `text` holds a phrase twice: 4 Chinese characters, or 3 English words."""
    units = re.findall(r"[\u4e00-\u9fff]", text) if chinese else re.findall(r"[a-z']+", text.lower())
    n = 4 if chinese else 3
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    return len(grams) != len(set(grams))


def score_direction(translator, options, data: dict, held_out) -> dict:
    from engine.text.segment import split_sentences

    def translate(lines):
        return [r.text for r in translator.translate(lines, options=options)]

    numbers = translate(data["numbers"])
    wanted = [(DIGITS.findall(s), out) for s, out in zip(data["numbers"], numbers)]
    kept_numbers = sum(d in out for digits, out in wanted for d in digits)
    all_numbers = sum(len(digits) for digits, _ in wanted)
    names_out = translate([s for s, _ in data["names"]])
    kept_names = sum(name in out for (_, names), out in zip(data["names"], names_out) for name in names)
    all_names = sum(len(names) for _, names in data["names"])
    paragraphs = translate(data["paragraphs"])
    whole = sum(len(split_sentences(out)) >= len(split_sentences(src)) for src, out in zip(data["paragraphs"], paragraphs))
    sources, references = held_out
    outputs = translate(sources)
    chinese = translator.target_is_chinese
    examples = {
        "numbers": list(zip(data["numbers"][:3], numbers[:3])),
        "names": [(s, o) for (s, _), o in zip(data["names"][:3], names_out[:3])],
        "paragraphs": list(zip(data["paragraphs"][:2], paragraphs[:2])),
    }
    return {
        "numbers_kept": round(kept_numbers / all_numbers, 3), "numbers": all_numbers,
        "names_kept": round(kept_names / all_names, 3), "names": all_names,
        "paragraphs_whole": round(whole / len(paragraphs), 3), "paragraphs": len(paragraphs),
        "outputs_repeating": round(sum(repeats(o, chinese) for o in outputs) / len(outputs), 4),
        "references_repeating": round(sum(repeats(r[0], chinese) for r in references) / len(references), 4),
        "held_out_sentences": len(outputs),
        "examples": examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--en-zh", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--zh-en", default=str(ROOT / "checkpoints" / "default-zh-en"))
    parser.add_argument("--before-en-zh", help="another en→zh run, decoded as before the guard")
    parser.add_argument("--before-zh-en", help="another zh→en run, decoded as before the guard")
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"), help="where named corpora are ($SEQ2SEQ_CORPORA)")
    args = parser.parse_args()
    os.environ.setdefault("SEQ2SEQ_CORPORA", args.corpora)

    import engine  # noqa: F401
    from engine.config import DecodeOptions
    from engine.decoding.translate import Translator
    from engine.evaluation.evaluate import held_out

    data = json.loads(SENTENCES.read_text(encoding="utf-8"))
    rows = {}
    for label, run, direction, options in [
        ("en-zh", args.en_zh, "en-zh", DecodeOptions()),
        ("zh-en", args.zh_en, "zh-en", DecodeOptions()),
        ("en-zh before", args.before_en_zh, "en-zh", DecodeOptions(guard=False)),
        ("zh-en before", args.before_zh_en, "zh-en", DecodeOptions(guard=False)),
    ]:
        if not run:
            continue
        translator = Translator(run, warn=lambda message: None)
        log(f"{label}: {run}")
        rows[label] = {"run": run, **score_direction(translator, options, data[direction], held_out(translator.config, "test"))}
        log(f"{label}: " + json.dumps({k: v for k, v in rows[label].items() if k != "examples"}))
    print(json.dumps({"benchmark": "robustness", "decoding": "beam 4; guard on (before: off)", "rows": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
