"""Real text: the strings a translation of what people paste must hold, each exactly once, whole.

    python benchmarks/real_text.py [--en-zh RUN] [--zh-en RUN] [--label LABEL] [--corpora DIR]

The sentences of benchmarks/data/real_text.json were written for it (none from a corpus): clock
times, titles with names, Chinese cities, prices with a currency sign, names of several words,
possessives, links beside Chinese, product names, each with what its translation must hold (上午9点,
Thompson女士, 深圳, €1,250, Zhang Wei, Teacher Wang, …). For each direction: the share of those
strings found exactly once in the output, and the sentences that missed. The pipeline's code is
whatever `engine` imports: run it once more with PYTHONPATH at another checkout (a `git archive`
of an older commit, with its own checkpoints/) for a before-and-after on the same sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = Path(__file__).parent / "data" / "real_text.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--en-zh", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--zh-en", default=str(ROOT / "checkpoints" / "default-zh-en"))
    parser.add_argument("--label", default="this checkout", help="what the row is (the code and models measured)")
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"), help="where named corpora are ($SEQ2SEQ_CORPORA)")
    args = parser.parse_args()
    os.environ.setdefault("SEQ2SEQ_CORPORA", args.corpora)

    import engine
    from engine.decoding.translate import Translator

    data = json.loads(SENTENCES.read_text(encoding="utf-8"))
    row = {"label": args.label, "engine": str(Path(engine.__file__).parent)}
    for direction, run in (("en-zh", args.en_zh), ("zh-en", args.zh_en)):
        translator = Translator(run, warn=lambda message: None)
        sources = [source for source, _ in data[direction]]
        outputs = [t.text for t in translator.translate(sources)]
        kept, missed = 0, []
        for (source, wanted), output in zip(data[direction], outputs):
            found = [output.count(text) == 1 for text in wanted]
            kept += sum(found)
            if not all(found):
                missed.append([source, output])
        total = sum(len(wanted) for _, wanted in data[direction])
        row[direction] = {"run": run, "kept": round(kept / total, 3), "strings": total, "sentences": len(sources), "missed": missed}
        print(f"{direction}: {kept}/{total} kept", file=sys.stderr)
    print(json.dumps({"benchmark": "real_text", "row": row}, ensure_ascii=False))


if __name__ == "__main__":
    main()
