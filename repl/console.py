"""The one stderr console every tool shares, and the exit-code conventions.

stdout carries translations only; progress, tables, warnings and errors go to stderr.
Exit codes: 0 ok, 1 runtime error, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.config import DecodeOptions
from engine.data.files import CorpusError
from engine.text.glossary import Glossary

console = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or a missing model: exit code 2."""


def error(message: str) -> None:
    """One line on stderr, no traceback."""
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)


@contextlib.contextmanager
def quiet_stderr_fd():
    """Silence C++ libraries writing straight to file descriptor 2 (TensorFlow's import-time
    banners), while Python's own sys.stderr keeps working through a duplicate."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, without their start-up noise."""
    import engine  # noqa: F401  (sets the quiet defaults; TensorFlow itself is imported here, deferred on purpose)

    with quiet_stderr_fd():
        import keras  # noqa: F401
        import tensorflow

        # Device discovery happens on first use, after the import: a CUDA build on a machine
        # without a GPU logs "failed call to cuInit" / "Could not find cuda drivers" from C++
        # then. Discover the devices here, inside the silenced block; errors after this point
        # (the ones a person needs) still reach stderr.
        tensorflow.config.list_physical_devices()

    # Translation pads batches to a few deliberate shapes; TensorFlow's retracing notice is noise.
    tensorflow.get_logger().setLevel("ERROR")


def at_least(minimum: int):
    """An argparse type: a whole number ≥ minimum, refused at parse time with the rule named."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_decode_options(parser, n_best: bool = False) -> None:
    """--beam, --alpha and --max-len (and --n-best where a tool shows alternatives), with the one
    set of defaults of `DecodeOptions` that chat, batch, eval and serve share."""
    default = DecodeOptions()
    group = parser.add_argument_group("decoding")
    group.add_argument("--beam", type=at_least(1), default=default.beam, help=f"beam size (1 = greedy; default: {default.beam})")
    if n_best:
        group.add_argument("--n-best", type=at_least(1), default=default.n_best, help=f"hypotheses shown per sentence (default: {default.n_best})")
    group.add_argument("--alpha", type=float, default=default.alpha, help="length normalisation: score = log-prob / length**alpha (default: the model's own, chosen on its validation split, else 1)")
    group.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=default.rerank,
                       help="rescore the beam with the reverse model (the other direction's), which prefers the candidate the source can be read back from (default: the model's own choice, on where it won on validation)")
    group.add_argument("--max-len", type=at_least(1), default=default.max_len, help="most output tokens (default: a little over the longest training target)")
    group.add_argument("--no-guard", action="store_true", help="turn off the repetition guard (by default no output repeats an n-gram or runs far longer than its source)")
    group.add_argument("--no-names", action="store_true", help="Chinese → English: leave Chinese person and place names to the model (by default a name is carried as pinyin, a place as CC-CEDICT names it)")
    group.add_argument("--dictionary", action="store_true", help="English → Chinese: translate a word the training data never had with CC-CEDICT (off by default)")
    group.add_argument("--glossary", metavar="FILE", help="TSV of 'term<TAB>translation' (an empty translation keeps the term as it is): each term is translated exactly so")


def decode_options(args):
    """The DecodeOptions of parsed arguments (see add_decode_options)."""
    return DecodeOptions(args.beam, 1, args.alpha, args.max_len, guard=not args.no_guard, dictionary=args.dictionary, names=not args.no_names, rerank=args.rerank).with_(
        n_best=getattr(args, "n_best", 1)
    )


def glossary_of(args):
    """The --glossary of parsed arguments, read now (a bad line is a one-line error naming it), or None."""
    if not getattr(args, "glossary", None):
        return None

    return Glossary.load(args.glossary)


def key_value_table(title: str, rows: list[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else str(value))  # (Text: already styled)
    return table


def run_main(main) -> int:
    """Run a tool's main, turning expected failures into one-line errors and exit codes."""
    try:
        return main() or EXIT_OK
    except UsageError as err:
        error(str(err))
        return EXIT_USAGE
    except (CorpusError, FileNotFoundError, ValueError, OSError) as err:
        error(str(err))
        return EXIT_ERROR
    except KeyboardInterrupt as err:
        error(str(err) or "interrupted")
        return 130
