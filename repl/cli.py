"""`seq2seq-train` and `seq2seq-eval`: argument parsing → engine calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from engine.config import PRESETS, RunConfig, preset
from engine.direction import ARROWS, DIRECTIONS
from engine.registry import ARCHITECTURES, ATTENTIONS
from repl.console import (
    UsageError,
    add_decode_options,
    at_least,
    console,
    decode_options,
    glossary_of,
    import_tensorflow,
    key_value_table,
    positive_number,
    run_main,
)
from repl.output import Output

# ----------------------------------------------------------------------------------------------
# seq2seq-train

# option → (config field, type, help); defaults come from the preset and are shown in --help.
# Counts are checked as they are parsed (argparse names the option and the rule, exit 2).
POSITIVE, NON_NEGATIVE = at_least(1), at_least(0)
TRAIN_OPTIONS = {
    "--corpus": ("corpus", str, "one or more corpora: a named one (downloaded once: cmn-eng, fra-eng, …), tatoeba:eng-cmn (every linked pair of tatoeba.org's exports), a local Anki .txt/.zip, or 'addition'; the valid and test splits come from the first"),
    "--max-pairs": ("max_pairs", POSITIVE, "use only the first N pairs"),
    "--join-fraction": ("join_fraction", float, "add this share of extra training pairs, each two random pairs joined (longer inputs; attention must find each part)"),
    "--max-len": ("max_len", POSITIVE, "drop training pairs longer than N tokens on either side"),
    "--level": ("level", str, "tokens: subword (SentencePiece, with the text pipeline: normalisation, placeholders, sentences), char, or word (Latin words; CJK characters one token each)"),
    "--min-freq": ("min_freq", POSITIVE, "char and word levels: rarer tokens become <unk>"),
    "--source-vocab-size": ("source_vocab_size", POSITIVE, "subword level: pieces of the source side (fewer if the text has fewer)"),
    "--target-vocab-size": ("target_vocab_size", POSITIVE, "subword level: pieces of the target side"),
    "--name-share": ("name_share", float, "subword level: share of the training pairs with a name of one fixed translation (Tom 汤姆) where it becomes a placeholder to copy"),
    "--dictionary-pairs": ("dictionary_pairs", NON_NEGATIVE, "subword level: add up to N word pairs from CC-CEDICT to the training data"),
    "--average-last": ("average_last", NON_NEGATIVE, "at the end, average the weights of the last N epochs into best.keras if that scores better on valid (0: off)"),
    "--arch": ("arch", str, f"architecture: {ARCHITECTURES.help()}"),
    "--cell": ("cell", str, "recurrent cell: lstm or gru"),
    "--layers": ("layers", POSITIVE, "stacked recurrent layers, or Transformer blocks, in encoder and decoder"),
    "--units": ("units", POSITIVE, "recurrent units (the state size), or the Transformer's width"),
    "--heads": ("heads", POSITIVE, "transformer: attention heads (--units must split into them)"),
    "--ff-dim": ("ff_dim", POSITIVE, "transformer: feed-forward inner size"),
    "--positions": ("positions", str, "transformer: sinusoidal or learned positions"),
    "--embed-dim": ("embed_dim", POSITIVE, "embedding size (rnn; a Transformer's embeddings are --units wide)"),
    "--dropout": ("dropout", float, "dropout on embeddings and between layers (transformer: also in attention and feed-forward)"),
    "--attention": ("attention", str, f"rnn: {ATTENTIONS.help()}"),
    "--memory": ("memory", str, "what the attention reads: encoder (its outputs), local (each word with two words of context either side), both (one head each; /align shows the local one), or keyed (scores from the word windows, context from both)"),
    "--decoder-init": ("decoder_init", str, "with attention, the decoder starts from: zeros (it reads the source through the attention only), or encoder (its final states)"),
    "--optimizer": ("optimizer", str, "rmsprop or adam"),
    "--learning-rate": ("learning_rate", positive_number, "initial learning rate"),
    "--warmup-steps": ("warmup_steps", NON_NEGATIVE, "raise the learning rate linearly from 0 over the first N steps"),
    "--label-smoothing": ("label_smoothing", float, "label smoothing of the token loss"),
    "--batch-size": ("batch_size", POSITIVE, "sentence pairs per step"),
    "--epochs": ("epochs", POSITIVE, "epochs to train (with --resume: extend a finished run to N)"),
    "--patience": ("patience", NON_NEGATIVE, "stop after N epochs without better val_loss (0: never)"),
    "--lr-patience": ("lr_patience", NON_NEGATIVE, "halve the learning rate after N epochs without progress (0: never)"),
    "--backup-every": ("backup_every", POSITIVE, "steps between resumable backups (a crash loses at most N)"),
    "--max-minutes": ("max_minutes", positive_number, "stop after the epoch that passes this training time"),
    "--seed": ("seed", NON_NEGATIVE, "seed for the split, batch order and initial weights"),
    "--distribute": ("distribute", str, "none; mirrored (all local GPUs, or all logical CPUs); or multiworker (several processes or machines: TF_CONFIG, or --workers and --worker-index)"),
}
TRAIN_FLAGS = {
    "--reverse": ("reverse", "train the other direction (target → source)"),
    "--bidirectional": ("bidirectional", "bidirectional encoder"),
    "--no-teacher-forcing": ("teacher_forcing", "feed the decoder its own previous prediction while training"),
    "--input-feeding": ("input_feeding", "with attention, feed each step's attentional vector into the next step (default preset: on)"),
    "--no-input-feeding": ("input_feeding", "with attention, apply it on top of the decoder only (the first shipped model's layout)"),
    "--jit-compile": ("jit_compile", "compile each training step with XLA (batches padded to multiples of 8)"),
    "--skip-bad-lines": ("skip_bad_lines", "skip and count malformed corpus lines instead of stopping"),
    "--tie-embeddings": ("tie_embeddings", "rnn: the output layer shares the target embedding's table (default preset: on)"),
    "--no-tie-embeddings": ("tie_embeddings", "rnn: a separate output layer"),
    "--chinese-subwords": ("chinese_chars", "subword level: a Chinese side in unigram subwords over characters, not single characters"),
    "--no-placeholders": ("placeholders", "subword level: no placeholders for numbers, kept words and names"),
    "--no-simplify": ("simplify", "tatoeba: corpora: keep traditional Chinese characters as they are"),
}
NEGATED = {"--chinese-subwords"}  # flags that set their field to False without a --no- prefix


def train_parser() -> argparse.ArgumentParser:
    default = preset("default")
    parser = argparse.ArgumentParser(
        prog="seq2seq-train",
        description="Train an encoder–decoder translation model into a run folder under checkpoints/, "
        "or resume one. Option defaults come from the preset (shown for --preset default).",
    )
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="starting configuration (default: default)")
    parser.add_argument("--run", help="run folder name or path (default: checkpoints/run-<date>-<time>)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last backup (or extend it with --epochs)")
    parser.add_argument(
        "--into-existing", action="store_true",
        help="allow --run to name a non-empty folder that is not a run (none of the run's own file names may exist there)",
    )
    parser.add_argument("--workers", metavar="HOST:PORT,…", help="with --distribute multiworker: every worker's address, the chief (index 0) first; builds TF_CONFIG")
    parser.add_argument("--worker-index", type=NON_NEGATIVE, help="with --workers: this process's place in the list (0 is the chief, which alone writes the run folder)")
    for option, (name, kind, text) in TRAIN_OPTIONS.items():
        shown = " ".join([default.corpus, *default.extra_corpora]) if name == "corpus" else getattr(default, name)
        many = {"nargs": "+"} if name == "corpus" else {}
        parser.add_argument(option, dest=name, type=kind, help=f"{text} (default: {shown})", **many)
    for option, (_, text) in TRAIN_FLAGS.items():  # dest: the option's own name (two set input_feeding)
        parser.add_argument(option, action="store_true", default=None, help=text)
    return parser


def config_from_args(args) -> RunConfig:
    overrides = {name: getattr(args, name) for name, *_ in TRAIN_OPTIONS.values() if getattr(args, name) is not None}
    if "corpus" in overrides:  # the first corpus gives the held-out splits; the others add training pairs
        overrides["corpus"], *overrides["extra_corpora"] = overrides["corpus"]
    for option, (name, _) in TRAIN_FLAGS.items():
        if getattr(args, option.lstrip("-").replace("-", "_")):
            overrides[name] = not option.startswith("--no-") and option not in NEGATED
    try:
        return preset(args.preset, **overrides)
    except ValueError as err:
        raise UsageError(str(err)) from err


def train_main(argv=None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)

    def main():
        from engine.distribute import is_chief, task, tf_config_for
        from engine.runs import RunFolder

        if (args.workers is None) != (args.worker_index is None):
            raise UsageError("--workers and --worker-index go together")
        if args.workers is not None:
            try:
                os.environ["TF_CONFIG"] = json.dumps(tf_config_for(args.workers.split(","), args.worker_index))
            except ValueError as err:
                raise UsageError(str(err)) from err
        try:
            index, count = task()
        except ValueError as err:
            raise UsageError(str(err)) from err
        if args.resume:
            run = RunFolder(args.resume)
            if not run.config_path.exists():
                raise UsageError(f"{run.path}: not a run folder (no config.json)")
            if count > 1 and run.config().distribute != "multiworker":
                raise UsageError(f"{run.path} was not trained with --distribute multiworker; resume it without --workers/TF_CONFIG")
            import_tensorflow()
            from engine.train import resume
            from repl.training import RichTrainingReport

            resume(run, epochs=args.epochs, report=RichTrainingReport())
        else:
            from engine.runs import NotARunFolder

            config = config_from_args(args)
            if config.distribute == "multiworker" and not os.environ.get("TF_CONFIG"):
                raise UsageError("--distribute multiworker needs --workers HOST:PORT,… with --worker-index N, or TF_CONFIG")
            run = RunFolder.new(args.run)
            try:
                if is_chief():  # (the other workers of a multi-worker run write elsewhere)
                    run.check_new(args.into_existing)  # before TensorFlow loads: answers at once
            except NotARunFolder as err:
                raise UsageError(str(err)) from err
            import_tensorflow()
            from engine.train import train
            from repl.training import RichTrainingReport

            train(config, run, into_existing=args.into_existing, report=RichTrainingReport())
        if is_chief():
            console.print(f"[green]done:[/] {run.path}  (evaluate: seq2seq-eval {run.path})")
        else:
            console.print(f"[green]done:[/] worker {index} of {count} (the chief wrote the run folder)")

    return run_main(main)


# ----------------------------------------------------------------------------------------------
# seq2seq-eval


def eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seq2seq-eval",
        description="Score a run on its held-out split (or on your own files) with sacrebleu BLEU and chrF.",
    )
    parser.add_argument("run", nargs="?", help="run folder (default: the shipped model of --direction, else the newest run)")
    parser.add_argument(
        "--direction", choices=("auto", *DIRECTIONS), default="auto",
        help="the shipped model to score: en-zh or zh-en; auto: en-zh on a split, and with --src each line by its script (default: auto)",
    )
    parser.add_argument("--split", choices=("test", "valid"), default="test", help="held-out split of the run's corpus (default: test)")
    parser.add_argument("--src", help="file of source sentences, one a line (instead of --split)")
    parser.add_argument("--refs", help="references aligned with --src; several references of one line separated by TABs")
    parser.add_argument("--max-sentences", type=POSITIVE, help="score only the first N sources")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT (claimed before translating; an existing file needs --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    parser.add_argument("--no-record", action="store_true", help="do not record the scores in the run folder's eval.json")
    parser.add_argument("--record", action="store_true", help="record the scores in a shipped model's eval.json too (by default only other runs are recorded)")
    add_decode_options(parser)
    return parser


def read_lines(path: str) -> list[str]:
    from engine.corpus import text_lines

    with open(path, "rb") as handle:
        return list(text_lines(handle, path))


def print_report(report: dict, title: str) -> None:
    from rich.table import Table

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


def eval_main(argv=None) -> int:
    args = eval_parser().parse_args(argv)

    def main():
        if bool(args.src) != bool(args.refs):
            raise UsageError("--src and --refs go together")
        args.glossary_terms = glossary_of(args)
        report_file = Output(args.json, args.force, [args.src, args.refs]) if args.json else None  # checked and claimed now
        try:
            run_jobs(args, report_file)
        except BaseException:
            if report_file is not None:
                report_file.discard()
            raise

    return run_main(main)


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
    from repl.models import Models

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
    from engine.evaluate import held_out
    from repl.models import resolve_run, shipped_runs

    if args.run or args.direction == "auto":
        run = resolve_run(args.run)
    elif args.direction in shipped_runs():
        run = shipped_runs()[args.direction]
    else:
        raise UsageError(f"no shipped {ARROWS[args.direction]} model; name a run folder")
    sources, references = held_out(run.config(), args.split)
    if args.max_sentences:
        sources, references = sources[: args.max_sentences], references[: args.max_sentences]
    return [(run, sources, references, args.split)]


def evaluate_run(run, sources, references, split_name: str, args) -> dict:
    """Translate and score one run on sources with references; print the report, record it in
    the run's eval.json (unless --no-record) and return it."""
    from engine.evaluate import run_lexicon, training_counts

    lexicon, lexicon_from = run_lexicon(run.config(), run.vocabs())
    counts = training_counts(run.config())
    import_tensorflow()
    from engine.evaluate import evaluate
    from engine.translate import Translator

    translator = Translator(run)
    options = decode_options(args)
    with console.status(f"translating {len(sources):,} sentences with beam {options.beam}…"):
        report = evaluate(translator, sources, references, lexicon=lexicon, options=options, glossary=args.glossary_terms, train_counts=counts)
    report["alignment"]["names_from"] = lexicon_from
    report = {"split": split_name, "run": str(run.path), "direction": translator.direction, **report}
    print_report(report, f"{run.path.name} ({ARROWS[translator.direction]}) on {split_name}")
    from engine.runs import is_packaged, is_shipped

    if is_packaged(run):  # an installed package's files are not ours to change
        console.print(f"[dim]not recorded in {run.eval_path}: the model is part of the installed package[/]")
    elif is_shipped(run) and not args.record:  # a tracked file of the checkout: only on purpose
        console.print(f"[dim]not recorded in {run.eval_path}: a shipped model's card changes only with --record[/]")
    elif not args.no_record:
        run.record_evaluation(split_name, report)
    return report


if __name__ == "__main__":
    sys.exit(train_main())
