"""`seq2seq-batch INPUT -o OUTPUT`: translate a file line by line, streaming, losing nothing.

Exactly one output line per input line, in order (a blank line stays blank). Input is read and
translated in chunks, so memory stays flat whatever the file size. The output is written to a
temporary file beside OUTPUT and renamed over it only when everything succeeded (see
repl/output.py for links, devices, and two runs writing the same new OUTPUT).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from engine.config import BATCH_SIZE
from engine.data.files import chunks_of, raw_lines, text_lines
from engine.text.direction import ARROWS, DIRECTIONS
from repl.console import (
    UsageError,
    add_decode_options,
    at_least,
    console,
    decode_options,
    glossary_of,
    key_value_table,
    run_main,
)
from repl.documents import DOCUMENT_FORMATS, DOCUMENT_KINDS, counted_result, new_stats, translate_document
from repl.memory import add_memory_options, import_files, memory_of
from repl.models import Models
from repl.output import Output

CHUNK_LINES = 2048  # lines read, translated and written at a time


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seq2seq-batch",
        description="Translate a text file line by line: one output line per input line, in order.",
    )
    p.add_argument("input", metavar="INPUT", help="text file, one sentence a line ('-' for stdin)")
    p.add_argument("-o", "--output", default="-", help="output file ('-' or absent: stdout)")
    p.add_argument("--model", help="run folder: every line goes to it (default: the shipped model of each direction, else the newest run)")
    p.add_argument("--direction", choices=("auto", *DIRECTIONS), default="auto", help="auto: each line by its script (Han → zh-en, Latin → en-zh), order kept; or one direction for every line (default: auto)")
    p.add_argument("--batch-size", type=at_least(1), default=BATCH_SIZE, help=f"sentences decoded together (default: {BATCH_SIZE})")
    p.add_argument(
        "--format", choices=("auto", "txt", "tsv", "jsonl", *DOCUMENT_KINDS), default="auto",
        help="txt: translations; tsv/jsonl: source, translation, score; html: the document with its text translated and "
        "its markup kept; srt: subtitles with their timings kept; po: a gettext catalogue (.po/.pot) with its untranslated "
        "entries filled and marked fuzzy; xliff: XLIFF 1.2 or 2.x with a target for each untranslated source; md: Markdown "
        f"with code, links and front matter kept (default auto: by INPUT's extension, {'/'.join(DOCUMENT_FORMATS)}, else txt)",
    )
    p.add_argument("--retranslate", action="store_true", help="po, xliff: translate the entries that already have a translation too (by default they are kept)")
    p.add_argument("--refs", help="reference translations aligned with INPUT (TAB between several): adds BLEU and chrF")
    p.add_argument("--errors", choices=("strict", "replace"), default="strict", help="undecodable bytes: stop with an error naming the line, or replace them")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUTPUT")
    p.add_argument("--quiet", action="store_true", help="no progress or tables on stderr")
    add_decode_options(p)
    add_memory_options(p)
    p.add_argument("--memory-import", metavar="FILE", action="append", default=[],
                   help="merge a TMX, TSV (source<TAB>translation) or memory file into the memory before translating (newest wins)")
    return p


# ----------------------------------------------------------------------------------------------
# Reading and writing


def decoded_lines(handle, name: str, errors: str):
    """Text lines of INPUT or REFS; an undecodable line stops with an error naming it."""
    return text_lines(handle, name, errors, hint="; use --errors replace to replace such bytes")


def format_of(args) -> str:
    """--format, or for auto the format of INPUT's extension (txt when it has none of them)."""
    if args.format != "auto":
        return args.format
    return DOCUMENT_FORMATS.get(Path(args.input).suffix.lower(), "txt")


def format_line(kind: str, number: int, source: str, result) -> str:
    text = result.text
    score = round(result.score, 4) if source.strip() else None
    if kind == "txt":
        return text
    if kind == "tsv":
        clean = lambda s: s.replace("\t", " ")  # noqa: E731  (a tab would shift the columns)
        return "" if not source.strip() else f"{clean(source)}\t{clean(text)}\t{score}"
    row = {"line": number, "source": source, "translation": text, "score": score}
    if result.confidence:
        row["confidence"] = result.confidence
    if result.memory is not None:  # an exact match is this line's translation; a fuzzy one is offered beside it
        match = result.memory
        row["memory"] = {"match": match.score, "source": match.entry.source, "translation": match.entry.target, "origin": match.entry.origin}
    return json.dumps(row, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------
# Checks done before TensorFlow is loaded (they answer at once)


def check_paths(args) -> None:
    if args.input != "-" and not Path(args.input).is_file():
        raise UsageError(f"{args.input}: no such file")
    if args.refs and not Path(args.refs).is_file():
        raise UsageError(f"{args.refs}: no such file")


def count_lines(path: str) -> int | None:
    """The lines of INPUT as seq2seq-batch reads them (LF, CRLF or CR endings), for the progress bar."""
    if path == "-":
        return None
    with open(path, "rb") as handle:
        return sum(1 for _ in raw_lines(handle, 1 << 20))


# ----------------------------------------------------------------------------------------------
# The run


def translate_stream(args, models, lines, write, progress=None, task=None) -> dict:
    """Translate `lines` chunk by chunk, each line with the model of its direction, writing one
    output line per input line in input order."""
    stats = new_stats()
    number, started = 0, time.perf_counter()
    for chunk in chunks_of(lines, CHUNK_LINES):
        routed = models.translate(chunk, spinner=False, batch_size=args.batch_size)
        for source, way in zip(chunk, routed):
            result = way.result
            number += 1
            blank = not source.strip()
            stats["blank"] += blank
            stats["unseen"] += bool(result.unknown)
            stats["long"] += bool(result.warnings)
            stats["sentences"] += len(result.parts) > 1
            stats["simplified"] += bool(result.simplified)
            stats["remembered"] += result.from_memory
            stats["fuzzy"] += result.memory is not None and not result.from_memory
            if not blank:
                stats["directions"][way.direction] = stats["directions"].get(way.direction, 0) + 1
            if way.mismatch:
                stats["mismatched"].append(f"line {number}: {way.mismatch}")
            if not blank:
                counted_result(stats, source, result, number)
            if args.refs:
                stats["hypotheses"].append(result.text)
            write(format_line(args.kind, number, source, result) + "\n")
        stats["lines"] = number
        if progress is not None:
            rate = number / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=len(chunk), rate=f"{rate:,.0f} lines/s")
    return stats


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def summary_tables(stats: dict, seconds: float, scores: dict | None):
    translated = stats["lines"] - stats["blank"]
    rows = [
        ("lines", f"{stats['lines']:,}"),
        ("blank lines", f"{stats['blank']:,}"),
        ("lines with unseen words", f"{stats['unseen']:,}"),
        ("lines of several sentences", f"{stats['sentences']:,}"),
        ("lines truncated (too long for the model)", f"{stats['long']:,}"),
        *([("traditional characters read as simplified", plural(stats["simplified"], "line"))] if stats["simplified"] else []),
        *([("from the translation memory", plural(stats["remembered"], "line"))] if stats["remembered"] else []),
        *([("similar memory entries offered (jsonl)", plural(stats["fuzzy"], "line"))] if stats["fuzzy"] else []),
        *([("confidence", confidence_counts(stats["confidence"]))] if stats["confidence"] else []),
        ("directions", ", ".join(f"{ARROWS[d]} {n:,}" for d, n in stats["directions"].items()) or "-"),
        ("seconds", f"{seconds:.2f}"),
        ("lines/s", _rate(translated, seconds)),
    ]
    if stats.get("catalogue"):
        rows[:1] = [(stats["catalogue"]["name"], f"{stats['catalogue']['entries']:,}"), ("filled", f"{stats['catalogue']['filled']:,}"),
                    ("marked for review", f"{stats['catalogue']['fuzzy']:,}")]
    if scores:
        rows += [("BLEU", scores["bleu"]), ("chrF", scores["chrf"]), ("BLEU signature", scores["bleu_signature"]), ("chrF signature", scores["chrf_signature"])]
    tables = [key_value_table("seq2seq-batch", rows)]
    if stats["samples"]:
        samples = Table(title="samples", title_justify="left")
        samples.add_column("source")
        samples.add_column("translation")
        notes, judged = (any(row[k] for row in stats["samples"]) for k in (2, 3))
        if notes:
            samples.add_column("memory")
        if judged:
            samples.add_column("confidence")
        for source, text, note, level in stats["samples"]:  # (Text: brackets are not markup)
            samples.add_row(Text(source), Text(text), *([Text(note)] if notes else []), *([Text(level or "", style=LEVEL_STYLES.get(level, ""))] if judged else []))
        tables.append(samples)
    if stats["low"]:
        low = Table(title="low confidence: check these first", title_justify="left")
        for column in ("line", "source", "translation"):
            low.add_column(column, style=LEVEL_STYLES["low"] if column == "translation" else None)
        for number, source, text in stats["low"]:
            low.add_row(str(number), Text(source), Text(text))
        tables.append(low)
    return tables


LEVEL_STYLES = {"low": "red", "medium": "yellow", "high": "green"}


def confidence_counts(counts: dict) -> Text:
    """`low 3 · medium 10 · high 20`, each in its colour."""
    text = Text()
    for level in ("low", "medium", "high"):
        if counts.get(level):
            text.append(" · " if text else "").append(f"{level} {counts[level]:,}", style=LEVEL_STYLES[level])
    return text


def _rate(count: int, seconds: float) -> str:
    """Lines a second, with a decimal below 10 (a small file's 0.4 lines/s is not "0")."""
    if seconds <= 0:
        return "-"
    rate = count / seconds
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"


def score_against_refs(args, hypotheses: list[str], sources_count: int) -> dict:
    from engine.evaluation.evaluate import (
        score,  # (deferred: sacrebleu and numpy, a third of a second, only for --refs)
    )

    with open(args.refs, "rb") as handle:
        references = [line.split("\t") for line in decoded_lines(handle, args.refs, args.errors)]
    if len(references) != sources_count:
        raise UsageError(f"{args.refs} has {len(references)} lines but the input has {sources_count}")
    kept = [(h, r) for h, r in zip(hypotheses, references) if any(x.strip() for x in r)]
    return score([h for h, _ in kept], [r for _, r in kept])


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C, so the temporary output is removed


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    def run():
        check_paths(args)
        args.kind = format_of(args)
        if args.kind in DOCUMENT_KINDS and args.refs:
            raise UsageError(f"--refs scores line by line; it does not go with --format {args.kind}")
        glossary = glossary_of(args)
        memory = memory_of(args)
        if args.memory_import:
            if memory is None:
                raise UsageError("--memory-import needs the memory: it does not go with --no-memory")
            import_files(memory, args.memory_import, quiet=args.quiet)
        warnings = []
        models = Models.for_session(args.model, args.direction, options=decode_options(args), warn=warnings.append, glossary=glossary, memory=memory)
        models.fuzzy = args.kind == "jsonl"  # (only jsonl shows a similar entry)
        output = Output(args.output, args.force, args.input)  # claims a new OUTPUT at once
        try:
            total = count_lines(args.input)  # (each model loads when the first line needs it)
        except BaseException:
            output.discard()
            models.close()
            raise
        source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
        write = output.open().write
        progress = Progress(
            TextColumn("translating"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=console, transient=True, disable=args.quiet,
        )
        started = time.perf_counter()
        try:
            with progress:
                task = progress.add_task("lines", total=total, rate="")
                if args.kind in DOCUMENT_KINDS:
                    stats = translate_document(args, models, source, write)
                else:
                    stats = translate_stream(args, models, decoded_lines(source, args.input, args.errors), write, progress, task)
            scores = score_against_refs(args, stats["hypotheses"], stats["lines"]) if args.refs else None
            output.commit()
        except BaseException:
            output.discard()
            raise
        finally:
            if source is not sys.stdin.buffer:
                source.close()
            models.close()
        seconds = time.perf_counter() - started
        if stats["mismatched"]:  # shown even with --quiet: these translations are likely nonsense
            more = len(stats["mismatched"]) - 3
            for warning in stats["mismatched"][:3]:
                console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
            if more > 0:
                console.print(f"[yellow]warning:[/] … and {more:,} more lines in the other script (--direction auto routes each line)", soft_wrap=True)
        if not args.quiet:
            for warning in warnings[:3]:
                console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
            for table in summary_tables(stats, seconds, scores):
                console.print(table)

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
