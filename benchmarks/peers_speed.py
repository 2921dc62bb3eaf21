"""Decoding speed, CTranslate2 beside ours (benchmarks/peers.py --part speed): the OpenNMT-py
Transformer of the 12-minute en→zh row converted to CTranslate2 (float32 and int8), and our run
of the same row, on the same test sentences, each in a process of its own pinned to one core
with one thread: sentences/s greedy and beam 4 (best of three batch passes), the p50 latency of
one sentence, peak RSS, and the share of this run's matrix-multiply rate (TensorFlow, one core)
that each decoder's arithmetic reaches (int8 products against the float32 rate: a share above
what float32 could reach is possible). Every decoder is timed text in, text out: CTranslate2
with SentencePiece's encoding and decoding, ours with its whole text pipeline.

FLOPs per sentence count the matrix products only, by benchmarks/decode_speed.py's formula: for
the CTranslate2 Transformer from the sizes in its OpenNMT-py config, with the token counts it
reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.decode_speed import transformer_flops_of
from benchmarks.peers_data import held_out_set, write_lines
from benchmarks.peers_setup import PEER_ENVIRONMENT, VENVS

SENTENCES = 500  # the first 500 test sources: a few minutes per decoder on one core

# Runs in OpenNMT-py's venv (CTranslate2 and SentencePiece there): argv = model dir, compute
# type, spm source model, sources file; prints one JSON object.
CTRANSLATE2_CHILD = r'''
import json, resource, statistics, sys, time
import ctranslate2, sentencepiece
model, compute_type, spm_source, spm_target, sources_file = sys.argv[1:6]
source, target = (sentencepiece.SentencePieceProcessor(model_file=f) for f in (spm_source, spm_target))
sources = open(sources_file, encoding="utf-8").read().split("\n")[:-1]
translator = ctranslate2.Translator(model, device="cpu", compute_type=compute_type, intra_threads=1, inter_threads=1)
def run(batch, beam):  # text in, text out, as ours is timed: SentencePiece both ways included
    results = translator.translate_batch([source.encode(s, out_type=str) for s in batch], beam_size=beam,
                                         max_batch_size=64, max_decoding_length=100)
    [target.decode(r.hypotheses[0]) for r in results]
    return results
run(sources, 1); run(sources, 4)
figures = {}
for beam in (1, 4):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter(); results = run(sources, beam); best = min(best, time.perf_counter() - started)
    figures[f"beam{beam}_sentences_per_s"] = round(len(sources) / best, 1)
    if beam == 1:
        figures["mean_output_steps"] = statistics.mean(len(r.hypotheses[0]) + 1 for r in results)
times = []
for tokens in sources:
    started = time.perf_counter(); run([tokens], 1); times.append(time.perf_counter() - started)
figures["latency_p50_ms"] = round(statistics.median(times) * 1000, 3)
figures["mean_source_tokens"] = statistics.mean(len(source.encode(s)) for s in sources)
figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(figures))
'''

# Runs in this project's environment: ours, and the matrix-multiply rate of one core.
OURS_CHILD = r'''
import json, resource, sys
sys.path.insert(0, sys.argv[3])
import engine
from engine.training.train import use_cores_op_by_op
use_cores_op_by_op()
from benchmarks.decode_speed import matmul_gflops, measure_compiled
from engine.decoding.translate import Translator
from engine.runs import RunFolder
sources = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
figures = measure_compiled(Translator(RunFolder(sys.argv[1])), sources)
figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
figures["matmul_gflops_per_s"] = matmul_gflops(n=1024)
print(json.dumps(figures))
'''

ROOT = Path(__file__).resolve().parent.parent


def pinned(command: list[str]) -> dict:
    done = subprocess.run(["taskset", "-c", "0", *command], capture_output=True, text=True, env={**os.environ, **PEER_ENVIRONMENT})
    if done.returncode:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(out: Path, results: Path, log) -> dict:
    data, row = out / "data" / "en-zh", out / "12min"
    sources, _ = held_out_set(data)
    sample = out / "speed-sources.en"
    count = write_lines(sample, sources[:SENTENCES])
    onmt = json.loads(results.read_text(encoding="utf-8"))["rows"]["onmt en-zh 12min"]
    checkpoint = row / "onmt-en-zh" / "run" / onmt["checkpoint"]
    c = json.loads((row / "onmt-en-zh" / "config.yaml").read_text(encoding="utf-8"))  # (JSON, which YAML reads)
    ours = pinned([sys.executable, "-c", OURS_CHILD, str(row / "ours-en-zh" / "run"), str(sample), str(ROOT)])
    peak = ours.pop("matmul_gflops_per_s")
    ours["greedy_share_of_matmul_rate"] = round(ours["greedy_gflops_per_s"] / peak, 4)
    log(f"ours: {ours}")
    figures = {"ours": ours, "matmul_gflops_per_s_one_core": peak, "sentences": count}
    for compute_type in ("float32", "int8"):
        converted = out / f"ct2-{compute_type}"
        subprocess.run([str(VENVS["onmt"] / "bin" / "ct2-opennmt-py-converter"), "--model_path", str(checkpoint), "--output_dir",
                        str(converted), "--quantization", compute_type, "--unsafe_deserialization", "--force"],
                       check=True, capture_output=True)
        result = pinned([str(VENVS["onmt"] / "bin" / "python"), "-c", CTRANSLATE2_CHILD, str(converted), compute_type,
                         str(data / "spm.en.model"), str(data / "spm.zh.model"), str(sample)])
        vocabulary = len(json.loads((converted / "target_vocabulary.json").read_text(encoding="utf-8")))
        flops = transformer_flops_of(c["hidden_size"], c["transformer_ff"], vocabulary, c["enc_layers"], c["dec_layers"],
                                     result["mean_source_tokens"], result["mean_output_steps"])
        result["mflops_per_sentence"] = round(flops / 1e6, 2)
        result["greedy_gflops_per_s"] = round(flops * result["beam1_sentences_per_s"] / 1e9, 2)
        result["greedy_share_of_matmul_rate"] = round(result["greedy_gflops_per_s"] / peak, 4)
        result["model_mb"] = round(sum(f.stat().st_size for f in converted.iterdir()) / 2**20, 1)
        figures[f"ctranslate2 {compute_type}"] = result
        log(f"ctranslate2 {compute_type}: {result}")
    return figures
