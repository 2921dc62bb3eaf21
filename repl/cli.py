"""`seq2seq-train` and `seq2seq-eval`: argument parsing → engine calls."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import typing

from engine.config import PRESETS, RunConfig, preset
from engine.data.files import Pair
from engine.memory.store import TranslationMemory
from engine.models.registry import ARCHITECTURES, ATTENTIONS
from engine.models.settings import allowed, out_of_range
from engine.runs import NotARunFolder, RunFolder, named_run
from engine.training.distribute import is_chief, task, tf_config_for
from repl.console import UsageError, at_least, console, import_tensorflow, run_main
from repl.models import direction_of_run

# ----------------------------------------------------------------------------------------------
# seq2seq-train

# The options of seq2seq-train are derived from RunConfig's fields (engine/config.py and
# engine/models/settings.py hold each one's help text and allowed values): --field-name for a
# value, --field-name/--no-field-name for a switch. Values are checked as they are parsed
# (argparse names the option and the rule, exit 2); defaults come from the preset.
ARCHITECTURE_HELP = {"arch": ARCHITECTURES.help(), "attention": ATTENTIONS.help()}
NON_NEGATIVE = at_least(0)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def value_type(f: dataclasses.Field, hint):
    """The argparse type of a field: its base type, checked against its metadata."""
    base = next(h for h in (typing.get_args(hint) or (hint,)) if h is not type(None))
    meta = f.metadata

    def parse(text: str):
        try:
            value = base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'a whole number' if base is int else 'a number'}, not {text!r}") from None
        problem = out_of_range(value, meta)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse if base in (int, float) else base


def add_config_options(parser, default: RunConfig) -> None:
    hints = typing.get_type_hints(RunConfig)
    group = parser.add_argument_group("run settings (defaults: --preset default)")
    for f in dataclasses.fields(RunConfig):
        if not f.metadata.get("flag", True):
            continue
        text = f.metadata["help"] + (f": {ARCHITECTURE_HELP[f.name]}" if f.name in ARCHITECTURE_HELP else "")
        if hints[f.name] is bool:
            group.add_argument(flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{text} (default: {'on' if getattr(default, f.name) else 'off'})")
            continue
        shown = " ".join([default.corpus, *default.extra_corpora]) if f.name == "corpus" else getattr(default, f.name)
        choices = allowed(f)
        names = [flag(f.name), *filter(None, [f.metadata.get("alias")])]
        many = f.name == "corpus" or typing.get_origin(hints[f.name]) is list
        group.add_argument(
            *names, dest=f.name, type=str if many else value_type(f, hints[f.name]), help=f"{text} (default: {shown})",
            **({"choices": choices} if choices and f.name not in ARCHITECTURE_HELP else {}), **({"nargs": "+"} if many else {}),
        )


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seq2seq-train",
        description="Train an encoder–decoder translation model into a run folder under checkpoints/, "
        "or resume one. Option defaults come from the preset (shown for --preset default).",
    )
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="starting configuration (default: default)")
    parser.add_argument("--run", help="run folder name or path (default: checkpoints/run-<date>-<time>)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last backup (or extend it with --epochs)")
    parser.add_argument(
        "--prepare-only", action="store_true",
        help="prepare the run's data (read, split, vocabularies, encoded pairs in RUN/data/) and stop; train it later with --resume RUN",
    )
    parser.add_argument(
        "--into-existing", action="store_true",
        help="allow --run to name a non-empty folder that is not a run (none of the run's own file names may exist there)",
    )
    parser.add_argument(
        "--adapt", metavar="RUN",
        help="a new run (--run) that continues RUN (a run folder, or a shipped model's name) on the translation memory's entries of "
        "its direction, mixed with a replay of its own training pairs, for a few minutes (--max-minutes, default 5; --epochs, default 4)",
    )
    parser.add_argument("--translation-memory", metavar="FILE",
                        help="with --adapt: the translation memory to learn from (default: $SEQ2SEQ_MEMORY, else the user's; --memory is the attention's)")
    parser.add_argument("--workers", metavar="HOST:PORT,…", help="with --distribute multiworker: every worker's address, the chief (index 0) first; builds TF_CONFIG")
    parser.add_argument("--worker-index", type=NON_NEGATIVE, help="with --workers: this process's place in the list (0 is the chief, which alone writes the run folder)")
    add_config_options(parser, preset("default"))
    return parser


def as_flags(message: str) -> str:
    """An engine message names config fields; a person at the command line knows them as options."""
    names = sorted((f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("flag", True)), key=len, reverse=True)
    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: flag(m.group()), message)


def config_from_args(args) -> RunConfig:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig) if getattr(args, f.name, None) is not None}
    if "corpus" in overrides:  # the first corpus gives the held-out splits; the others add training pairs
        overrides["corpus"], *overrides["extra_corpora"] = overrides["corpus"]
    try:
        return preset(args.preset, **overrides)
    except ValueError as err:
        raise UsageError(as_flags(str(err))) from err


def train_shown(run, work) -> None:
    """work(report, train module) with TensorFlow loaded behind a spinner and a live progress
    report; however it ends, the progress bar is stopped (the terminal left clean), and after
    Ctrl-C the one line says how to resume the run."""
    with console.status("loading TensorFlow …"):  # (a spinner on a terminal; nothing in a log)
        import_tensorflow()
    from engine.training import train as training  # (deferred: imports TensorFlow, seconds)
    from repl.training import RichTrainingReport  # (deferred with it: it draws Keras callbacks)

    training.use_cores_op_by_op()
    report = RichTrainingReport(run.path)
    try:
        work(report, training)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(report.interrupted() if run.config_path.exists() else "interrupted") from None
    finally:
        report.close()


def adapt_run(args) -> RunFolder:
    """--adapt BASE: a new run from BASE on the memory's entries of BASE's direction (engine/training/adapt.py)."""
    if args.resume or args.prepare_only or args.workers:
        raise UsageError("--adapt starts a new run of its own; it goes with --run, --translation-memory, --max-minutes and --epochs only")
    base = named_run(args.adapt) or RunFolder(args.adapt)
    if not base.config_path.exists():
        raise UsageError(f"{args.adapt}: not a run folder or a shipped model's name")
    direction = direction_of_run(base)
    corrections = [Pair(e.source, e.target) for e in TranslationMemory(args.translation_memory).entries(direction)]
    if not corrections:
        raise UsageError(f"the translation memory holds no {direction} entries to adapt {base.path.name} to (correct translations first)")
    run = RunFolder.new(args.run)
    try:
        run.check_new()
    except NotARunFolder as err:
        raise UsageError(str(err)) from err
    minutes = args.max_minutes if args.max_minutes is not None else 5.0
    epochs = args.epochs if args.epochs is not None else 4

    def work(report, training):
        from engine.training.adapt import adapt  # (deferred: imports TensorFlow, seconds)

        adapt(base, run, corrections, max_minutes=minutes, epochs=epochs, report=report)

    train_shown(run, work)
    return run


def train_main(argv=None) -> int:
    parser = train_parser()
    args = parser.parse_args(argv)

    def main():
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
        if args.resume and args.prepare_only:
            raise UsageError("--prepare-only starts a new run; a run to --resume is prepared already")
        if args.adapt:
            run = adapt_run(args)
        elif args.resume:
            run = RunFolder(args.resume)
            if not run.config_path.exists():
                raise UsageError(f"{run.path}: not a run folder (no config.json)")
            if count > 1 and run.config().distribute != "multiworker":
                raise UsageError(f"{run.path} was not trained with --distribute multiworker; resume it without --workers/TF_CONFIG")
            train_shown(run, lambda report, training: training.resume(run, epochs=args.epochs, report=report))
        else:
            config = config_from_args(args)
            if config.distribute == "multiworker" and not os.environ.get("TF_CONFIG"):
                raise UsageError("--distribute multiworker needs --workers HOST:PORT,… with --worker-index N, or TF_CONFIG")
            run = RunFolder.new(args.run)
            try:
                if is_chief():  # (the other workers of a multi-worker run write elsewhere)
                    run.check_new(args.into_existing)  # before TensorFlow loads: answers at once
            except NotARunFolder as err:
                raise UsageError(str(err)) from err
            train_shown(run, lambda report, training: training.train(config, run, into_existing=args.into_existing, report=report, prepare_only=args.prepare_only))
        if args.prepare_only:
            console.print(f"[green]prepared:[/] {run.path}  (train: seq2seq-train --resume {run.path})")
        elif args.adapt:
            console.print(f"[green]adapted:[/] {run.path}  (use it: seq2seq-chat --model {run.path}, or /model {run.path} in the chat)", soft_wrap=True)
        elif is_chief():
            console.print(f"[green]done:[/] {run.path}  (evaluate: seq2seq-eval {run.path})")
        else:
            console.print(f"[green]done:[/] worker {index} of {count} (the chief wrote the run folder)")

    return run_main(main)


if __name__ == "__main__":
    sys.exit(train_main())
