"""`seq2seq-eval`: score a run on its held-out split, or on your files, with sacrebleu BLEU and
chrF, by source length, on sentences with rare words, and with the name-alignment measure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table

from engine.data.corpus import SPLITS
from engine.data.files import text_lines
from engine.decoding.confidence import calibrate, sentence_chrfs, token_log_prob
from engine.decoding.rerank import FILE, reverse_run_of, tune, unseen_by
from engine.evaluation.evaluate import evaluate, held_out, run_lexicon, training_counts
from engine.runs import is_packaged, is_shipped
from engine.text.direction import ARROWS, DIRECTIONS
from repl.console import (
    UsageError,
    add_decode_options,
    at_least,
    console,
    decode_options,
    glossary_of,
    import_tensorflow,
    key_value_table,
    run_main,
)
from repl.models import Models, resolve_run, shipped_runs
from repl.output import Output

POSITIVE = at_least(1)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seq2seq-eval",
        description="Score a run on its held-out split (or on your own files) with sacrebleu BLEU and chrF.",
    )
    parser.add_argument("run", nargs="?", help="run folder (default: the shipped model of --direction, else the newest run)")
    parser.add_argument(
        "--direction", choices=("auto", *DIRECTIONS), default="auto",
        help="the shipped model to score: en-zh or zh-en; auto: en-zh on a split, and with --src each line by its script (default: auto)",
    )
    parser.add_argument("--split", choices=SPLITS, default="test", help="held-out split of the run's corpus; valid-extra: the second validation split, from the extra corpora (default: test)")
    parser.add_argument("--src", help="file of source sentences, one a line (instead of --split)")
    parser.add_argument("--refs", help="references aligned with --src; several references of one line separated by TABs")
    parser.add_argument("--max-sentences", type=POSITIVE, help="score only the first N sources")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT (claimed before translating; an existing file needs --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    parser.add_argument("--no-record", action="store_true", help="do not record the scores in the run folder's eval.json")
    parser.add_argument("--record", action="store_true", help="record the scores in a shipped model's eval.json too (by default only other runs are recorded)")
    parser.add_argument("--tune-decoding", action="store_true",
                        help="choose the run's alpha and reranking weight on its valid split and write them to its decoding.json (the tools' defaults for it)")
    parser.add_argument("--calibrate-confidence", action="store_true",
                        help="choose the run's confidence thresholds (low / medium / high) on its valid split and write them to its decoding.json")
    parser.add_argument("--rerank-with", metavar="RUN", help="with --tune-decoding: the reverse run (the other direction; a path or a shipped model's name) that reranks this one")
    add_decode_options(parser)
    return parser


def read_lines(path: str) -> list[str]:
    with open(path, "rb") as handle:
        return list(text_lines(handle, path))


def print_report(report: dict, title: str) -> None:
    console.print(key_value_table(title, [
        ("BLEU", report["bleu"]), ("chrF", report["chrf"]), ("sentences", report["sentences"]),
        ("references", report["references"]), ("beam", report["decoding"]["beam"]),
        ("seconds", report["seconds"]), ("BLEU signature", report["bleu_signature"]),
        ("chrF signature", report["chrf_signature"]),
    ]))
    table = Table(title="examples (sentence chrF)", title_justify="left")
    for column in ("", "source", "translation", "reference", "chrF"):
        table.add_column(column)
    for kind, rows in report["examples"].items():
        for row in rows:
            table.add_row(kind, row["source"], row["translation"], " | ".join(row["references"]), str(row["chrf"]))
    console.print(table)
    if report.get("by_length"):
        lengths = Table(title="by source length", title_justify="left")
        for column in ("source length", "sentences", "BLEU", "chrF"):
            lengths.add_column(column, justify="left" if column == "source length" else "right")
        for row in report["by_length"]:
            lengths.add_row(row["bucket"], f"{row['sentences']:,}", f"{row['bleu']:.1f}", f"{row['chrf']:.1f}")
        console.print(lengths)
    rare = report.get("rare_words")
    if rare:
        console.print(
            f"sentences with a rare word (seen fewer than {rare['seen_fewer_than']} times in training): "
            f"{rare['sentences']:,}, BLEU {rare['bleu']:.1f}, chrF {rare['chrf']:.1f}", soft_wrap=True,
        )
    judged = report.get("confidence")
    if judged and judged.get("sentences"):
        console.print(f"confidence: {judged['worst_flagged']:.0%} of the worst {judged['worst_share']:.0%} of sentences (by chrF) "
                      f"are flagged low, and {judged['all_flagged']:.0%} of all", soft_wrap=True)
    if report.get("unrepresentable_share") is not None:
        console.print(f"source tokens the model cannot represent (<unk>): {report['unrepresentable_share']:.2%}", soft_wrap=True)
    aligned = report.get("alignment") or {}
    if aligned.get("name_alignment") is not None:
        console.print(
            f"name alignment {aligned['name_alignment']:.2f}: of {aligned['name_characters']:,} output characters "
            f"of names in {aligned['sentences']:,} sentences, the share whose attention peaks on the English name; "
            f"{aligned['peaks_in_last_fifth']:.0%} of all attention peaks in those sentences fall in the last fifth of the source",
            soft_wrap=True,
        )
    elif aligned:
        console.print(f"name alignment: none ({aligned.get('why', 'no named sentences')})", soft_wrap=True)


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def main():
        if bool(args.src) != bool(args.refs):
            raise UsageError("--src and --refs go together")
        if args.tune_decoding:
            return tune_run(args)
        if args.calibrate_confidence:
            return calibrate_run(args)
        args.glossary_terms = glossary_of(args)
        report_file = Output(args.json, args.force, [args.src, args.refs]) if args.json else None  # checked and claimed now
        try:
            run_jobs(args, report_file)
        except BaseException:
            if report_file is not None:
                report_file.discard()
            raise

    return run_main(main)


def on_valid_split(args, option: str):
    """(run, its translator, valid sources, their references) for an option that chooses a run's
    settings on its valid split (--max-sentences: the first N)."""
    if args.src or args.json:
        raise UsageError(f"{option} uses the run's valid split; it takes no --src or --json")
    run = resolve_run(args.run)
    sources, references = held_out(run.config(), "valid")
    if args.max_sentences:
        sources, references = sources[: args.max_sentences], references[: args.max_sentences]
    import_tensorflow()
    from engine.decoding.translate import Translator  # (deferred: imports TensorFlow, seconds)

    return run, Translator(run), sources, references


def tune_run(args) -> None:
    """--tune-decoding: alpha and reranking weight chosen on the valid split, into decoding.json."""
    run, translator, sources, references = on_valid_split(args, "--tune-decoding")
    if args.rerank_with:
        translator.defaults.rerank_with = args.rerank_with
    try:
        reverse = reverse_run_of(translator.defaults, run)
    except ValueError as err:
        raise UsageError(f"{err}; pass --rerank-with RUN") from err
    unseen = unseen_by(reverse, sources, references)
    if len(unseen) < 50:
        raise UsageError(f"only {len(unseen)} valid sentences that {reverse.path} never trained on: too few to tune reranking on")
    console.print(f"alpha on the {len(sources):,} valid sentences; the reranking weight on the {len(unseen):,} of them "
                  f"that {reverse.path.name} never trained on either", soft_wrap=True)
    with console.status("tuning …") as status:
        chosen = tune(translator, sources, references, beam=max(args.beam, 2), rerank_on=unseen, stage=status.update)
    chosen.save(run)
    rows = [(f"alpha {a}", bleu) for a, bleu in chosen.measured["bleu_by_alpha"].items()]
    rows += [(f"those {chosen.measured['reranking_sentences']}: plain", chosen.measured["bleu_plain_there"])]
    rows += [(f"those {chosen.measured['reranking_sentences']}: reranked, weight {w}", bleu) for w, bleu in chosen.measured["bleu_reranked_by_weight"].items()]
    console.print(key_value_table(f"{run.path.name}: valid BLEU, beam {chosen.measured['beam']}", rows))
    console.print(f"{run.path / FILE}: alpha {chosen.alpha:g}, reranking weight {chosen.rerank_weight:g} "
                  f"({chosen.measured['gain']:+.2f} BLEU: {'on' if chosen.rerank else 'off'} by default)", soft_wrap=True)


def calibrate_run(args) -> None:
    """--calibrate-confidence: thresholds chosen on the valid split (decoded as the tools decode
    by default), into decoding.json; what "low" catches there is printed and kept beside them."""
    run, translator, sources, references = on_valid_split(args, "--calibrate-confidence")
    options = decode_options(args)
    with console.status(f"translating {len(sources):,} valid sentences with beam {options.beam}…"):
        found = translator.translate(sources, options=options)
    chosen = calibrate([token_log_prob(t) for t in found], sentence_chrfs([t.text for t in found], references))
    translator.defaults.confidence = chosen  # (the run's decoding.json as the translator read it, with the thresholds)
    translator.defaults.save(run)
    measured = chosen["measured"]
    console.print(key_value_table(f"{run.path.name}: confidence on {measured['sentences']:,} valid sentences, beam {options.beam}", [
        ("low below", chosen["low"]), ("high from", chosen["high"]),
        (f"worst {measured['worst_share']:.0%} (chrF ≤ {measured['worst_chrf_at_most']}) flagged low", f"{measured['worst_flagged']:.0%}"),
        ("all sentences flagged low", f"{measured['all_flagged']:.0%}"),
    ]))
    console.print(f"{run.path / FILE}: confidence thresholds written", soft_wrap=True)


def run_jobs(args, report_file) -> None:
    """Translate and score what the arguments name; the JSON report goes to `report_file`."""
    jobs = file_jobs(args) if args.src else held_out_jobs(args)
    reports = [evaluate_run(run, sources, references, split_name, args) for run, sources, references, split_name in jobs]
    if report_file is not None:
        body = reports[0] if len(reports) == 1 else {report["direction"]: report for report in reports}
        report_file.write_all(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def file_jobs(args) -> list:
    """--src/--refs: each line goes to the model of its direction; each direction is scored on
    its own (its own BLEU tokenizer: zh for Chinese output, 13a for English)."""
    sources = read_lines(args.src)
    references = [line.split("\t") for line in read_lines(args.refs)]
    if len(sources) != len(references):
        raise UsageError(f"{args.src} has {len(sources)} lines but {args.refs} has {len(references)}")
    if args.max_sentences:
        sources, references = sources[: args.max_sentences], references[: args.max_sentences]
    models = Models.for_session(args.run, args.direction)
    groups: dict[str, list[int]] = {}
    for i, line in enumerate(sources):
        groups.setdefault(models.direction_for(line), []).append(i)
    return [
        (models.runs[d], [sources[i] for i in rows], [references[i] for i in rows], f"files:{Path(args.src).name}")
        for d, rows in groups.items()
    ]


def held_out_jobs(args) -> list:
    """A run's held-out split (the shipped model of --direction, or RUN)."""
    if args.run or args.direction == "auto":
        run = resolve_run(args.run)
    elif args.direction in shipped_runs():
        run = shipped_runs()[args.direction]
    else:
        raise UsageError(f"no shipped {ARROWS[args.direction]} model; name a run folder")
    try:
        sources, references = held_out(run.config(), args.split)
    except ValueError as err:
        raise UsageError(f"{run.path}: {err}") from err
    if args.max_sentences:
        sources, references = sources[: args.max_sentences], references[: args.max_sentences]
    return [(run, sources, references, args.split)]


def evaluate_run(run, sources, references, split_name: str, args) -> dict:
    """Translate and score one run on sources with references; print the report, record it in
    the run's eval.json (unless --no-record) and return it."""
    lexicon, lexicon_from = run_lexicon(run.config(), run.vocabs())
    counts = training_counts(run.config())
    import_tensorflow()
    from engine.decoding.translate import Translator  # (deferred: imports TensorFlow, seconds)

    translator = Translator(run)
    options = decode_options(args)
    with console.status(f"translating {len(sources):,} sentences with beam {options.beam}…"):
        report = evaluate(translator, sources, references, lexicon=lexicon, options=options, glossary=args.glossary_terms, train_counts=counts)
    report["alignment"]["names_from"] = lexicon_from
    report = {"split": split_name, "run": str(run.path), "direction": translator.direction, **report}
    print_report(report, f"{run.path.name} ({ARROWS[translator.direction]}) on {split_name}")

    if is_packaged(run):  # an installed package's files are not ours to change
        console.print(f"[dim]not recorded in {run.eval_path}: the model is part of the installed package[/]")
    elif is_shipped(run) and not args.record:  # a tracked file of the checkout: only on purpose
        console.print(f"[dim]not recorded in {run.eval_path}: a shipped model's card changes only with --record[/]")
    elif not args.no_record:
        run.record_evaluation(split_name, report)
    return report


if __name__ == "__main__":
    sys.exit(main())
