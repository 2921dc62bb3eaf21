"""Does Keras' int8 quantization carry CTranslate2's int8 win over to our decoder?

CTranslate2 decodes 1.5–2.5× faster than ours on one core, partly with int8 products
(benchmarks/peers_speed.py). Keras 3 quantizes Dense, EinsumDense and Embedding layers
(`layer.quantize("int8")`); this measures what that gives our shipped en→zh model: the valid
split's first N sentences decoded greedy and at beam 4 (no reranking), float32 against int8
Dense layers, each in its own process pinned to the same core with one thread, one after the
other in this run, with sentences/s, valid BLEU and peak RSS.

    python benchmarks/int8_decoding.py [--run checkpoints/default] [--sentences 600] [--core 0]

Needs the corpus the run names ($SEQ2SEQ_CORPORA). Progress goes to stderr; the last line of
stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peers_setup import ONE_THREAD  # noqa: E402  (the peers' decoders ran under the same)

CHILD = r"""
import json, resource, sys, time
from engine.config import DecodeOptions
from engine.decoding.translate import Translator
from engine.evaluation.evaluate import held_out, score
run, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
translator = Translator(run, graphs="dynamic")
quantized = []
if mode == "int8":  # every Dense layer Keras can quantize (the LSTM cell and tied output it cannot)
    for layer in translator.model._flatten_layers():
        if type(layer).__name__ == "Dense":
            layer.quantize("int8")
            quantized.append(layer.name)
sources, references = held_out(translator.config, "valid")
sources, references = sources[:count], references[:count]
facts = {"mode": mode, "quantized_layers": quantized}
for beam in (1, 4):
    options = DecodeOptions(beam=beam, rerank=False)
    translator.translate(sources[:50], options=options)  # (traced before the clock starts)
    started = time.perf_counter()
    out = translator.translate(sources, options=options)
    seconds = time.perf_counter() - started
    facts[f"beam{beam}_sentences_per_s"] = round(len(sources) / seconds, 1)
    facts[f"beam{beam}_valid_bleu"] = score([t.text for t in out], references)["bleu"]
facts["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(facts))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=str(ROOT / "checkpoints" / "default"))
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    environment = {**os.environ, **ONE_THREAD, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    rows = {}
    for mode in ("float32", "int8"):
        print(f"[int8] {mode} …", file=sys.stderr, flush=True)
        done = subprocess.run(["taskset", "-c", str(args.core), sys.executable, "-c", CHILD, args.run, mode, str(args.sentences)],
                              env=environment, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise SystemExit(f"{mode}: {done.stderr[-2000:]}")
        rows[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"[int8] {rows[mode]}", file=sys.stderr, flush=True)
    ratio = {f"beam{b}": round(rows["int8"][f"beam{b}_sentences_per_s"] / rows["float32"][f"beam{b}_sentences_per_s"], 2) for b in (1, 4)}
    print(json.dumps({"benchmark": "int8_decoding", "run": Path(args.run).name, "sentences": args.sentences, "rows": rows,
                      "int8_speed_over_float32": ratio}))


if __name__ == "__main__":
    main()
