"""`seq2seq-memory`: the translation memory from the command line (list, add, import, export,
delete). Every tool looks a line up in the same memory before its model (engine/memory/store.py);
this tool moves it between machines and CAT tools as TMX, and merges memories (newest wins, the
other kept as superseded).

    seq2seq-memory list [--direction zh-en] [--search TEXT] [--tsv]
    seq2seq-memory add "I write Python every day." "我每天写Python。"
    seq2seq-memory import other.tmx | corrections.tsv | other-memory.sqlite
    seq2seq-memory export memory.tmx
    seq2seq-memory delete 12 13
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from rich.table import Table
from rich.text import Text

from engine.data.files import CorpusError, text_lines
from engine.data.formats import is_tmx, open_stream
from engine.memory.store import ORIGINS, Entry, TranslationMemory, default_path
from engine.memory.tmx import read_tmx_entries, write_tmx
from engine.text.direction import DIRECTIONS, direction_of_script
from engine.text.script import script_of
from repl.console import UsageError, console, key_value_table, run_main
from repl.output import Output

SQLITE_MAGIC = b"SQLite format 3\x00"


def add_memory_options(parser) -> None:
    """--memory FILE and --no-memory, for every tool that looks lines up."""
    group = parser.add_argument_group("translation memory")
    group.add_argument("--memory", metavar="FILE", help=f"the translation memory (default: $SEQ2SEQ_MEMORY, else {default_path()})")
    group.add_argument("--no-memory", action="store_true", help="translate every line with the model (no lookups; corrections are not kept)")


def memory_of(args) -> TranslationMemory | None:
    """The memory of parsed arguments (checked now: a damaged file is a one-line error), or None with --no-memory."""
    if getattr(args, "no_memory", False):
        return None
    return TranslationMemory(getattr(args, "memory", None))


def direction_for(source: str, given: str | None, where: str) -> str:
    """--direction, else the direction of the source's script."""
    direction = given or direction_of_script(script_of(source))
    if direction is None:
        raise CorpusError(f"{where}: cannot tell the language of {source[:40]!r}; pass --direction")
    return direction


def tsv_entries(path: str, direction: str | None, origin: str):
    """`source<TAB>target` lines (a third column, such as Tatoeba's attribution, is ignored)."""
    with open_stream(Path(path)) as handle:
        for number, line in enumerate(text_lines(handle, path, "strict"), 1):
            if not line.strip():
                continue
            columns = line.split("\t")
            if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
                raise CorpusError(f"{path}:{number}: expected 'source<TAB>translation'")
            yield Entry(direction_for(columns[0], direction, f"{path}:{number}"), columns[0], columns[1], origin)


def entries_of_file(path: str, direction: str | None, origin: str, skipped: list):
    """The entries of a TMX, TSV or memory file (the latter with its superseded entries)."""
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file")
    with open(path, "rb") as handle:
        magic = handle.read(len(SQLITE_MAGIC))
    if magic == SQLITE_MAGIC:
        other = TranslationMemory(path)
        return [*other.superseded(), *reversed(other.entries())]  # oldest first: the newest wins
    if is_tmx(Path(path)):
        return read_tmx_entries(path, skipped)
    return tsv_entries(path, direction, origin)


# ----------------------------------------------------------------------------------------------
# Commands


def memory_note(result, short: bool = False) -> str:
    """How the translation memory took part in a line (a Translation), for a person: from it, or
    a similar entry offered beside the model's translation (short: for a table cell)."""
    entry = result.memory.entry
    if result.from_memory:
        return "memory" if short else f"from the translation memory ({entry.origin}, {entry.time})"
    if short:
        return f"memory {result.memory.score:.0f}%: {entry.target}"
    return f"similar in memory ({result.memory.score:.0f}%): {entry.source} → {entry.target}"


def entries_table(memory: TranslationMemory, entries: list[Entry]) -> Table:
    table = Table(title=f"{memory.path}: {len(entries):,} of {len(memory):,} entries", title_justify="left")
    for column in ("id", "direction", "source", "translation", "origin", "model", "time"):
        table.add_column(column)
    for e in entries:  # (Text: a translation with [brackets] is not rich markup)
        table.add_row(*(Text(str(value)) for value in (e.id, e.direction, e.source, e.target, e.origin, e.model, e.time)))
    return table


def cmd_list(args, memory: TranslationMemory) -> None:
    entries = memory.entries(args.direction, args.search, args.limit)
    if args.tsv:
        for e in entries:
            sys.stdout.write("\t".join(str(v).replace("\t", " ") for v in (e.id, e.direction, e.source, e.target, e.origin, e.model, e.time)) + "\n")
        return
    console.print(entries_table(memory, entries))


def cmd_add(args, memory: TranslationMemory) -> None:
    entry = memory.correct(direction_for(args.source, args.direction, "SOURCE"), args.source, args.target, origin=args.origin)
    console.print(f"kept: {entry.source!r} → {entry.target!r} ({entry.direction})", soft_wrap=True, markup=False)


def import_files(memory: TranslationMemory, files: list[str], direction: str | None = None, origin: str = "import", quiet: bool = False) -> Counter:
    """Merge files into the memory, each in one transaction (a bad line: an error naming it, and
    nothing of that file kept); a table of what happened on stderr."""
    counts: Counter = Counter()
    for path in files:
        skipped: list[int] = []
        counts += memory.add(entries_of_file(path, direction, origin, skipped))
        counts["skipped (one side only)"] += len(skipped)
    if not quiet:
        rows = [("memory", str(memory.path)), *((what, f"{n:,}") for what, n in counts.items() if n), ("entries now", f"{len(memory):,}")]
        console.print(key_value_table("translation memory import", rows))
    return counts


def cmd_import(args, memory: TranslationMemory) -> None:
    import_files(memory, args.files, args.direction, args.origin)


def cmd_export(args, memory: TranslationMemory) -> None:
    output = Output(args.output, args.force)
    try:
        count = write_tmx(reversed(memory.entries(args.direction)), output.open())
        output.commit()
    except BaseException:
        output.discard()
        raise
    console.print(f"exported {count:,} entries to {args.output}")


def cmd_delete(args, memory: TranslationMemory) -> None:
    gone = memory.delete(args.ids)
    console.print(f"deleted {gone:,} of {len(args.ids):,}")
    if gone < len(args.ids):
        raise UsageError("some ids are not in the memory (seq2seq-memory list shows them)")


def cmd_path(args, memory: TranslationMemory) -> None:
    sys.stdout.write(f"{memory.path}\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seq2seq-memory", description="The translation memory every tool looks lines up in before its model.")
    p.add_argument("--memory", metavar="FILE", help=f"the memory file (default: $SEQ2SEQ_MEMORY, else {default_path()})")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="show entries, newest first")
    listing.add_argument("--direction", choices=DIRECTIONS)
    listing.add_argument("--search", help="only entries whose source or translation holds this text")
    listing.add_argument("--limit", type=int, default=None, help="at most this many")
    listing.add_argument("--tsv", action="store_true", help="id, direction, source, translation, origin, model, time on stdout")
    add = commands.add_parser("add", help="keep a translation (served exactly from now on)")
    add.add_argument("source")
    add.add_argument("target")
    importing = commands.add_parser("import", help="merge TMX, TSV (source<TAB>translation) or another memory file: newest wins, nothing lost")
    importing.add_argument("files", nargs="+", metavar="FILE")
    for sub in (add, importing):
        sub.add_argument("--direction", choices=DIRECTIONS, help="default: by the script of each source (Han → zh-en)")
        sub.add_argument("--origin", choices=ORIGINS, default="correction" if sub is add else "import")
    export = commands.add_parser("export", help="write the memory as TMX 1.4 (for another machine or a CAT tool)")
    export.add_argument("output", metavar="FILE", help="'-' for stdout")
    export.add_argument("--direction", choices=DIRECTIONS)
    export.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    delete = commands.add_parser("delete", help="remove entries by id")
    delete.add_argument("ids", nargs="+", type=int, metavar="ID")
    commands.add_parser("path", help="print the memory file's path")
    return p


COMMANDS = {"list": cmd_list, "add": cmd_add, "import": cmd_import, "export": cmd_export, "delete": cmd_delete, "path": cmd_path}


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return run_main(lambda: COMMANDS[args.command](args, TranslationMemory(args.memory)))


if __name__ == "__main__":
    sys.exit(main())
