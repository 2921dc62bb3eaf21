"""Render the figures of docs/results.md from the benchmarks' JSON results.

    python benchmarks/report.py [--results benchmarks/results] [--update docs/results.md]

Each benchmark prints one JSON object as its last line; save them as results/<name>.json
(e.g. `python benchmarks/train_speed.py | tail -1 > benchmarks/results/train_speed.json`).
With --update, the text between the FIGURES markers of that file is replaced.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- FIGURES:START -->", "<!-- FIGURES:END -->"


def load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    text = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not text:
        return None
    try:  # (a file a benchmark wrote itself, as peers.json)
        return json.loads(text)
    except json.JSONDecodeError:  # (a benchmark's output: its last line is the JSON object)
        return json.loads(text.splitlines()[-1])


def train_section(r: dict) -> list[str]:
    t, o, f = r["tutorial"], r["ours"], r["ours-full"]
    return _train_tutorial(r, t, o, f) + _train_architectures(r) + _train_workers(r)


def _train_architectures(r: dict) -> list[str]:
    a = r.get("architectures")
    if not a:
        return []
    lines = [
        f"Whole corpus, the shipped layouts, each with and without XLA-compiled training steps (`--jit-compile`), "
        f"{a['steps']} batches timed after the same batches ran once (the first pass includes tracing and, with XLA, "
        f"one compilation per batch shape){' (' + a['note'] + ')' if a.get('note') else ''}:",
        "",
        "| preset | XLA | params | samples/s | first pass | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("default", "default+xla", "transformer", "transformer+xla"):
        row = a[key]
        if "error" in row:
            lines.append(f"| {row['preset']} | {'yes' if row['jit_compile'] else 'no'} | {row['params']:,} | fails: {row['error'][:120]} | – | – |")
            continue
        lines.append(
            f"| {row['preset']} | {'yes' if row['jit_compile'] else 'no'} | {row['params']:,} | {row['samples_per_s']:,.0f} | "
            f"{row['first_pass_s']} s | {row['peak_rss_mb']:,} MB |"
        )
    speedups = [
        f"**{a[f'{name}_xla_speedup']}×** the samples/s for the {label}"
        for name, label in (("default", "recurrent default"), ("transformer", "Transformer")) if f"{name}_xla_speedup" in a
    ]
    return lines + ["", f"XLA-compiled steps: {'; '.join(speedups) or 'no figure'}.", ""]


def _train_workers(r: dict) -> list[str]:
    w = r.get("workers")
    if not w:
        return []
    one, two = w["one_process"], w["two_workers"]
    return [
        f"Multi-worker training on this one machine (the default preset, global batch 64, {one['steps']} timed steps): "
        f"one process {one['samples_per_s']:,.0f} samples/s ({one['peak_rss_mb']:,} MB); two worker processes of "
        f"`--distribute multiworker` on localhost {two['samples_per_s']:,.0f} samples/s "
        f"({' and '.join(f'{m:,}' for m in two['peak_rss_mb_each'])} MB): **{w['two_over_one']}×**. The two processes "
        "share the same two cores and exchange gradients every step, so this is the cost of the mechanism; the gain "
        "needs a machine per worker.",
        "",
    ]


def _train_tutorial(r: dict, t: dict, o: dict, f: dict) -> list[str]:
    return [
        "## Training (`benchmarks/train_speed.py`)",
        "",
        f"First {t['pairs']:,} pairs of `cmn.txt`, the tutorial's model size (LSTM 256, rmsprop, batch 64), each in its own process, {r['machine']}:",
        "",
        "| pipeline | samples/s | peak RSS | data prepared in |",
        "|---|---|---|---|",
        f"| tutorial (one-hot arrays, {t['one_hot_gb']} GB) | {t['samples_per_s']:,.0f} | {t['peak_rss_mb']:,} MB | {t['array_build_s']} s |",
        f"| ours (embeddings, sparse targets, buckets) | {o['samples_per_s']:,.0f} | {o['peak_rss_mb']:,} MB | {o['array_build_s']} s |",
        f"| ours, whole corpus ({f['pairs']:,} pairs, one epoch) | {f['samples_per_s']:,.0f} | {f['peak_rss_mb']:,} MB | {f['array_build_s']} s |",
        "",
        f"Ours: **{r['speedup_samples_per_s']}×** the tutorial's samples/s at **{r['rss_ratio_ours_over_tutorial']:.3f}×** its peak RSS; "
        f"the whole corpus trains in {r['full_corpus_peak_rss_mb']:,} MB.",
        "",
    ]


def decode_section(r: dict) -> list[str]:
    t, o = r["tutorial"], r["ours"]
    return [
        "## Decoding (`benchmarks/decode_speed.py`)",
        "",
        f"Same trained weights (tutorial size: {r['model']['cell'].upper()} {r['model']['units']}, no attention, "
        f"{r['model']['target_vocab']:,} target characters), {r['machine']}, test-split sentences:",
        "",
        "| | latency p50 | latency p90 | greedy sentences/s | beam 4 sentences/s |",
        "|---|---|---|---|---|",
        f"| tutorial loop (`predict()` per token) | {t['latency_p50_ms']:.0f} ms | {t['latency_p90_ms']:.0f} ms | {t['sentences_per_s']} | – |",
        f"| ours (XLA-compiled batched loop) | {o['latency_p50_ms']:.2f} ms | {o['latency_p90_ms']:.2f} ms | {o['beam1_sentences_per_s']:,.0f} | {o['beam4_sentences_per_s']:,.0f} |",
        "",
        f"{r['latency_speedup_p50']}× lower latency, {r['throughput_speedup_greedy']:,}× the throughput; beam 4 runs at "
        f"{r['beam4_over_greedy']:.2f}× greedy's rate. Arithmetic: {r['mflops_per_sentence']} MFLOP per sentence "
        f"({r['mean_source_tokens']} source tokens, {r['mean_output_steps']} output steps); this machine's float32 "
        f"matrix multiply measured {r['matmul_gflops_per_s']} GFLOP/s in the same run, and greedy decoding does "
        f"{r['greedy_gflops_per_s']} GFLOP/s of useful work: {r['greedy_share_of_matmul_rate']:.0%} of it.",
        "",
    ] + _decode_compared(r)


def _decode_compared(r: dict) -> list[str]:
    compared = r.get("compared")
    if not compared:
        return []
    lines = [
        "The shipped-size models side by side (each on its own test split, every shape compiled first"
        + (f"; {r['compared_note']}" if r.get("compared_note") else "") + "):",
        "",
        "| run | architecture | latency p50 | greedy sentences/s | beam 4 sentences/s | MFLOP/sentence | share of the matmul rate (greedy) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in compared.items():
        lines.append(
            f"| {name} | {row['arch']} | {row['latency_p50_ms']:.2f} ms | {row['beam1_sentences_per_s']:,.0f} | "
            f"{row['beam4_sentences_per_s']:,.0f} | {row['mflops_per_sentence']} | {row['greedy_share_of_matmul_rate']:.1%} |"
        )
    return lines + [""]


def batch_section(r: dict) -> list[str]:
    lines = ["## Batch translation (`benchmarks/batch_speed.py`, the default model)", ""]
    if r.get("note"):
        lines += [f"({r['note']}.)", ""]
    if all(k in r for k in ("small", "big", "small_beam4")):
        s, b, s4 = r["small"], r["big"], r["small_beam4"]
        lines += [
            "| file | decoding | lines/s (whole command) | peak RSS |",
            "|---|---|---|---|",
            f"| {s['lines']:,} lines | greedy | {s['lines_per_s']:,.0f} | {s['peak_rss_mb']:,} MB |",
            f"| {s4['lines']:,} lines | beam 4 | {s4['lines_per_s']:,.0f} | {s4['peak_rss_mb']:,} MB |",
            f"| {b['lines']:,} lines | greedy | {b['lines_per_s']:,.0f} | {b['peak_rss_mb']:,} MB |",
            "",
            "Memory stays flat from ten thousand to a million lines (the file is streamed in chunks); "
            "the small file's rate includes loading TensorFlow and the model.",
            "",
        ]
    d = r.get("directions")
    if d:
        lines += [
            f"Both directions, {d['english']['lines']:,}-line files, greedy, `--direction auto` (each line routed by its script), "
            "the two shipped models:",
            "",
            "| file | lines/s (whole command) | peak RSS |",
            "|---|---|---|",
            *(f"| {label} | {d[key]['lines_per_s']:,.0f} | {d[key]['peak_rss_mb']:,} MB |" for key, label in (
                ("english", "English only (en→zh model)"), ("chinese", "Chinese only (zh→en model)"),
                ("mixed", "mixed, alternating lines (both models)"),
            )),
            "",
            f"The mixed file runs at {d['mixed_vs_single_direction']:.2f}× the mean of the single-direction rates: "
            "it loads two models, and each chunk of 2,048 lines is decoded as two half-size batches.",
            "",
        ]
    return lines


def serve_section(r: dict) -> list[str]:
    one, local = r["one_client"], r["in_process"]
    rows = [f"| {c} client{'s' if c > 1 else ''} | {r[f'clients_{c}']['sentences_per_s']:,.0f} |" for c in (1, 8, 64)]
    return [
        f"## HTTP API (`benchmarks/serve_speed.py`, `{Path(r['model']).name}`, beam {r['beam']})",
        "",
        f"{r['requests_per_level']:,} requests of one test-split sentence each per level, on localhost, beside "
        f"`Translator.translate` in-process on the same sentences in the same run:",
        "",
        "| | sentences/s |",
        "|---|---|",
        f"| in-process, one call for all | {local['sentences_per_s']:,.0f} |",
        *rows,
        "",
        f"One client: p50 {one['latency_p50_ms']:.1f} ms, p99 {one['latency_p99_ms']:.1f} ms a request "
        f"(in-process, one sentence a call: p50 {local['latency_p50_ms']:.1f} ms, p99 {local['latency_p99_ms']:.1f} ms). "
        f"The best concurrency reaches {r['best_over_in_process']:.0%} of the in-process rate; the server's peak RSS "
        f"is {r['server_peak_rss_mb']:,} MB.",
        "",
    ]


def chat_section(r: dict) -> list[str]:
    return [
        "## Chat start-up (`benchmarks/chat_startup.py`, the default model, beam 4)",
        "",
        f"Median of {r['repeats']} starts on a pseudo-terminal: the prompt appears after **{r['first_prompt_s']:.2f} s**; "
        f"a line typed at once is translated {r['first_translation_s']:.1f} s after start (TensorFlow, the model and "
        f"its compiled graphs load in the background meanwhile). The next line, typed right after, takes "
        f"{r['next_translation_s'] * 1000:.0f} ms (it can wait for a sentence length the chat is still compiling in the "
        f"background); once that warm-up is over, a line takes {r['warm_translation_s'] * 1000:.0f} ms end to end through "
        "the terminal.",
        "",
    ]


def quality_section(r: dict) -> list[str]:
    lines = [
        "## Quality (`benchmarks/quality.py`)",
        "",
        f"Test split of the whole corpus (keyed on the English sentence; none of these sources is trained on), "
        f"sacrebleu BLEU with `tokenize=\"zh\"` and chrF; every row but the last trained for the same "
        f"{r['minutes_per_row']:g} minutes on {r['machine']}" + (f" ({r['note']})" if r.get("note") else "") + ":",
        "",
        "| model | params | epochs | train min | BLEU greedy | chrF greedy | BLEU beam 4 | chrF beam 4 | BLEU ≥ 10 words | name alignment |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {
        "tutorial": "tutorial preset (char LSTM 256, rmsprop, 10,000 pairs)",
        "lstm": "ours: word→char LSTM, no attention",
        "gru": "ours: word→char GRU, no attention",
        "lstm+attention": "ours: bidirectional LSTM + Luong attention, as first shipped",
        "lstm+aligned-attention": "ours: the same with input feeding, scaled scores, decoder started from zeros",
        "previous-default": "ours: that plus half as many extra joined pairs (the previous default preset)",
        "default-preset": "ours: the default preset (scores keyed by word windows, decoder started from the encoder)",
        "default-preset (rerun)": "ours: the default preset, rerun beside the Transformer row",
        "transformer": "ours: the transformer preset (3 + 3 pre-norm blocks 128 wide, 4 heads, tied output)",
        "default (shipped)": "the shipped default model (default preset, trained longer)",
    }
    for key, row in r["rows"].items():
        lines.append(
            f"| {names.get(key, key)} | {row['params']:,} | {row['epochs']} | {row['train_minutes']} | "
            f"{row.get('bleu_greedy', '–')} | {row.get('chrf_greedy', '–')} | {row['bleu_beam4']} | {row['chrf_beam4']} | "
            f"{_cell(row.get('bleu_beam4_10_words'))} | {_cell(row.get('name_alignment'))} |"
        )
    return lines + [
        "",
        "BLEU ≥ 10 words: beam 4, sources of ten or more words only. Name alignment: of the output characters "
        "of names the training data translates one fixed way (Tom 汤姆, Mary 玛丽, Boston 波士顿, …), the share "
        "whose attention peaks on the English name (`seq2seq-eval` reports it too).",
        "",
    ]


def time_to_quality_section(r: dict) -> list[str]:
    names = {"default": "recurrent (default preset)", "transformer": "Transformer (transformer preset)"}
    lines = [
        "## Time to quality (`benchmarks/time_to_quality.py`)",
        "",
        f"Minutes of training each architecture needs to reach the shipped default model's validation BLEU "
        f"({r['target_valid_bleu_beam4']}, beam 4), side by side in one run on {r['machine']}, at most "
        f"{r['budget_minutes']:g} minutes each; every epoch's weights scored on the validation split:",
        "",
        "| architecture | params | minutes to reach it | epochs | best validation BLEU | at minute |",
        "|---|---|---|---|---|---|",
    ]
    for key, row in r["rows"].items():
        lines.append(
            f"| {names.get(key, key)} | {row['params']:,} | {_cell(row['minutes_to_target']) if row['minutes_to_target'] is not None else 'not within the budget'} | "
            f"{_cell(row['epochs_to_target'])} | {row['best_valid_bleu_beam4']} | {row['best_at_minutes']} |"
        )
    curves = "; ".join(
        f"{names.get(key, key)}: " + ", ".join(f"{m}′ {b}" for m, b in row["curve"]) for key, row in r["rows"].items()
    )
    return lines + ["", f"Validation BLEU after each epoch (training minutes′ BLEU): {curves}.", ""]


def growth(row: dict) -> str:
    """The peak RSS's growth from the smallest size, preparing / training (– for the smallest)."""
    if "rss_growth_from_smallest" not in row:
        return "–"
    training = row.get("training_rss_growth_from_smallest")
    return f"{row['rss_growth_from_smallest']:+.0%} / " + ("–" if training is None else f"{training:+.0%}")


def data_scale_section(r: dict) -> list[str]:
    lines = [
        f"## Preparing big corpora (`benchmarks/data_scale.py`, {r['date']}, {r['machine']})",
        "",
        f"`{r['command']}`: joined pairs of the corpus, each size prepared in a process of its own with the default "
        "recipe (everything before the first training step); `encoded` is a digest of the encoded training pairs "
        "(equal digests: byte-identical data). Peak RSS of the preparing process, and of the largest of the "
        "processes that shared its per-pair work where there were any (`engine/data/parallel.py`). `first step`: a "
        "second process resumes the prepared run (reading its data/) to the end of its first training step; seconds "
        "from its start, and its peak RSS with training.",
        "",
        "| pairs | code | seconds | pairs/s | peak RSS MB | worker peak RSS MB | first step s | RSS training MB | growth (preparing / training) | encoded |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    number = lambda value, form: "–" if not value else format(value, form)  # noqa: E731
    for row in r["rows"]:
        lines.append(f"| {row['pairs']:,} | {row['code']} | {row['seconds']:.0f} | {row['pairs_per_second']:,} | "
                     f"{row['peak_rss_mb']:,} | {number(row.get('peak_worker_rss_mb'), ',')} | "
                     f"{number(row.get('first_step_seconds'), '.1f')} | {number(row.get('training_peak_rss_mb'), ',')} | "
                     f"{growth(row)} | `{row['encoded_sha256']}` |")
    return lines + [""]


def resume_at_scale_section(r: dict) -> list[str]:
    lines = [
        f"## Exact resume at scale (`benchmarks/resume_at_scale.py`, {r['date']}, {r['machine']})",
        "",
        f"`{r['command']}` (model `{r['model']}`): the corpus prepared once (`--prepare-only`), two copies of the run "
        "trained side by side, one killed with SIGKILL after its backup passed the given step and resumed from "
        "its data/ and backup; each step's loss compared with the uninterrupted run's. A step's loss is derived "
        "from the running mean Keras reports (k·mean_k − (k−1)·mean_k−1), which carries float32 rounding of about "
        "k × 1e-7 × the loss: 2e-4 at step 300. Before the dropout's random streams were kept with each backup, "
        "the same check on 100,000 pairs differed by 1.7e-2 from the first resumed step.",
        "",
        "| pairs | steps | killed after | resumed from step | steps compared | no step skipped or replayed | largest loss difference | mean loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['pairs']:,} | {row['steps']} | {row['killed_after_steps']} | {row['resumed_from_step']} | "
                     f"{row['steps_compared']} | {'yes' if row['same_steps'] else 'no'} | {row['max_loss_difference']:.1e} | "
                     f"{row['mean_loss']:.3f} |")
    return lines + [""]


def confidence_section(r: dict) -> list[str]:
    lines = [
        "### Confidence per sentence",
        "",
        f"`{r['command']}` ({r['date']}, {r['machine']}): each shipped model's test split decoded as the tools decode "
        "(beam 4), each sentence given low / medium / high by the thresholds chosen on its valid split "
        "(`seq2seq-eval RUN --calibrate-confidence`: low = the lowest quarter of valid scores, high = the top 40%). "
        "\"Worst\": the tenth of test sentences with the lowest sentence chrF.",
        "",
        "| model | test sentences | flagged low: of the worst tenth | flagged low: of all | BLEU low / medium / high (sentences) |",
        "|---|---|---|---|---|",
    ]
    for row in r["runs"]:
        t, b = row["test"], row["by_level"]
        levels = " / ".join(f"{b[k]['bleu']:.1f} ({b[k]['sentences']:,})" for k in ("low", "medium", "high") if k in b)
        lines.append(f"| {row['run']} ({row['direction']}) | {t['sentences']:,} | {t['worst_flagged']:.0%} | {t['all_flagged']:.0%} | {levels} |")
    return lines + [""]


def real_text_section(r: dict) -> list[str]:
    lines = [
        "### Real text: spans, names, times",
        "",
        "`python benchmarks/real_text.py` (and again with PYTHONPATH at an older checkout, for the row before): "
        "sentences written for it, each with the strings its translation must hold exactly once (上午9点, Thompson女士, "
        f"深圳, €1,250, Zhang Wei, Teacher Wang, …); {r['machine']}. {r['note'].capitalize()}.",
        "",
        "| code and models | en→zh strings kept | zh→en strings kept |",
        "|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['label']} | {row['en-zh']['kept']:.0%} of {row['en-zh']['strings']} | {row['zh-en']['kept']:.0%} of {row['zh-en']['strings']} |")
    return lines + [""]


def adapt_domain_section(r: dict) -> list[str]:
    b, a = r["before"], r["after"]
    return [
        "### Adapting to a person's corrections",
        "",
        f"`{r['command']}` ({r['date']}, {r['machine']}): `{r['domain_file']}` (software UI strings written for this project, a "
        f"domain Tatoeba lacks): {r['corrections']} pairs kept as corrections in a translation memory, {r['held_out']} held out; "
        f"`{r['base']}` adapted to the corrections (`seq2seq-train --adapt`: {r['adaptation']['corrections']} corrections ×"
        f"{r['adaptation']['correction_repeats']} and {r['adaptation']['replay']:,} replayed training pairs an epoch) for "
        f"{r['epochs']} epochs, {r['minutes']} min on this machine; beam 4, no memory lookups; peak RSS {r['peak_rss_mb']:,} MB.",
        "",
        "| | held-out domain BLEU | held-out domain chrF | general test BLEU | general test chrF |",
        "|---|---|---|---|---|",
        f"| before | {b['domain']['bleu']} | {b['domain']['chrf']} | {b['general']['bleu']} | {b['general']['chrf']} |",
        f"| after | {a['domain']['bleu']} | {a['domain']['chrf']} | {a['general']['bleu']} | {a['general']['chrf']} |",
        "",
    ]


def peers_section(r: dict) -> list[str]:
    rows = {k: v for k, v in r["rows"].items() if k != "speed"}
    versions = "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(found.items())) for name, found in r.get("versions", {}).items())
    lines = [
        "### Peers on the same data and the same minutes",
        "",
        f"`benchmarks/peers.py` ({r['machine']}; {versions}): our recipe, JoeyNMT and OpenNMT-py trained on our splits "
        "(benchmarks/peers/README.md has their configs) for the same training minutes, each keeping its best checkpoint by "
        "its own validation; our test split decoded with each one's beam search (beam 4) and scored as `seq2seq-eval` scores ours; "
        "how each row stopped, and when the checkpoint it kept was saved, in its columns.",
        "",
        "| direction | budget (min) | toolkit | stopped | trained (min) | kept checkpoint saved at (min) | parameters | test BLEU | test chrF | date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = sorted(rows.values(), key=lambda row: (row["direction"], row["budget_minutes"], -row["bleu"]))
    for row in order:
        params = f"{row['params'] / 1e6:.2f} M" if row.get("params") else "–"
        lines.append(f"| {row['direction']} | {row['budget_minutes']:g} | {row['row']} | {row['stopped']} | {row['training_minutes']} | {_cell(row.get('kept_at_minutes'))} | {params} | {row['bleu']} | {row['chrf']} | {row['date']} |")
    speed = r["rows"].get("speed")
    if speed:
        lines += [
            "",
            f"Decoding the first {speed['sentences']} en→zh test sentences on one core (one thread each; this core's "
            f"matrix-multiply rate {speed['matmul_gflops_per_s_one_core']} GFLOP/s), the 12-minute models:",
            "",
            "| decoder | greedy sentences/s | beam 4 sentences/s | one sentence p50 (ms) | greedy share of the matmul rate | peak RSS (MB) |",
            "|---|---|---|---|---|---|",
        ]
        for name in ("ours", "ctranslate2 float32", "ctranslate2 int8"):
            f = speed[name]
            lines.append(f"| {name} | {f['beam1_sentences_per_s']} | {f['beam4_sentences_per_s']} | {f['latency_p50_ms']} | "
                         f"{f['greedy_share_of_matmul_rate']:.1%} | {f['peak_rss_mb']:,} |")
    return lines + [""]


def _cell(value) -> str:
    return "–" if value is None else f"{value}"


def render(results: Path) -> str:
    sections = []
    for name, section in (
        ("quality", quality_section), ("time_to_quality", time_to_quality_section), ("train_speed", train_section), ("decode_speed", decode_section),
        ("batch_speed", batch_section), ("serve_speed", serve_section), ("chat_startup", chat_section),
        ("data_scale_side_by_side", data_scale_section), ("data_scale", data_scale_section),
        ("resume_at_scale", resume_at_scale_section), ("confidence", confidence_section), ("real_text", real_text_section),
        ("adapt_domain", adapt_domain_section),
        ("peers", peers_section),
    ):
        data = load(results, name)
        if data:
            sections += section(data)
    return "\n".join(sections).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--update", help="the Markdown file to update in place (docs/results.md)")
    args = parser.parse_args()
    text = render(Path(args.results))
    if not args.update:
        print(text)
        return
    readme = Path(args.update)
    content = readme.read_text(encoding="utf-8")
    before, _, rest = content.partition(START)
    _, _, after = rest.partition(END)
    readme.write_text(f"{before}{START}\n{text}{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main()
