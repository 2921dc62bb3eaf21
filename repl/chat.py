"""`seq2seq-chat`: type a sentence, read its translation.

On a terminal: one prompt_toolkit `PromptSession` with file history (0600), auto-suggestion from
history, Ctrl-R search, slash commands with completion. The prompt appears at once; TensorFlow and
the model load in a background thread, and a line entered before they are ready waits behind a
spinner. With stdin not a terminal: no prompt and no colours, one output line per input line on
stdout, so `echo "Hello." | seq2seq-chat` works in a pipe.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory
from rich.table import Table
from rich.text import Text

from engine.config import DecodeOptions
from engine.runs import first_line
from engine.text.direction import ARROWS, DIRECTIONS
from engine.text.glossary import Glossary
from repl.cards import alignment_heatmap, alignment_peaks, model_card, n_best_table
from repl.console import (
    UsageError,
    add_decode_options,
    console,
    decode_options,
    error,
    glossary_of,
    key_value_table,
    run_main,
)
from repl.memory import add_memory_options, entries_table, memory_note, memory_of
from repl.models import ModelLoader, Models, resolve_run
from repl.prompt import COMMANDS, QUIT, SlashCompleter, history_path, private_history


class Chat:
    """What the chat does with each line, apart from reading it (so tests can drive it).

    models: a `Models` (one model per direction, each line routed by its script) or one run folder."""

    def __init__(self, models, options: DecodeOptions | None = None, history: FileHistory | None = None, out=None, interactive=True):
        self.history, self.interactive = history, interactive
        self.out = out or sys.stdout
        if not isinstance(models, Models):
            models = Models.single(models, warm_all_lengths=interactive)
        if options is not None:
            models.options = options
        self.models = models
        if interactive:  # load while the user types (a pipe loads what its first line needs)
            self.models.start()
        self.last = None  # the last translation (for /align)
        self.answered = None  # the direction whose model answered last (for /info)
        self.fixable = None  # (direction, translation) of the last line translated (for /fix)
        self.edit = None  # (text) -> text the person edited: set on a terminal, so /fix alone edits in place

    @property
    def options(self) -> DecodeOptions:
        """How the chat decodes (the session's models hold it; /beam and /nbest change it)."""
        return self.models.options

    @property
    def loader(self) -> ModelLoader:
        """The loader of the model that answered last (or of the one loaded first)."""
        if not self.models.loaders:
            self.models.start()
        return self.models.loaders.get(self.answered) or next(iter(self.models.loaders.values()))

    def close(self, wait: bool = True) -> bool:
        return self.models.close(wait)

    # ---------------------------------------------------------------- translating
    def translate_lines(self, lines: list[str]) -> None:
        started = time.perf_counter()
        routed = self.models.translate(lines, spinner=self.interactive)
        ms = (time.perf_counter() - started) * 1000 / max(len(lines), 1)
        for way in routed:
            result = way.result
            self.out.write(result.text + "\n")
            self.out.flush()
            if not result.source.strip():
                continue
            if way.mismatch:  # also in a pipe: the translation above is likely nonsense
                console.print(f"[yellow]warning:[/] {way.mismatch}; /direction auto routes it", soft_wrap=True)
            if result.simplified:
                console.print(f"[yellow]note:[/] read as simplified: {' '.join(f'{a}→{b}' for a, b in result.simplified)}", soft_wrap=True)
            self.answered, self.fixable = way.direction, (way.direction, result)
            if result.memory is not None:
                console.print(memory_note(result), soft_wrap=True, markup=False, style="cyan")
            if result.confidence == "low":
                console.print("low confidence: check this translation (/fix corrects it)", soft_wrap=True, style="yellow")
            if self.interactive:
                self.last = result
                if self.options.n_best > 1:
                    for part in result.parts or [result]:
                        console.print(n_best_table(part))
                unseen = f"  unseen: {' '.join(result.unknown)}" if result.unknown else ""
                judged = f"  confidence {result.confidence}" if result.confidence else ""
                console.print(Text(f"{ARROWS[way.direction]}  score {result.score:.3f}{judged}  {ms:.1f} ms{unseen}", style="dim"))

    # ---------------------------------------------------------------- commands
    def command(self, line: str) -> bool:
        """Run a slash command; False means quit."""
        name, _, argument = line.strip().partition(" ")
        argument = argument.strip()
        if name in QUIT:
            return False
        handler = getattr(self, f"cmd_{name[1:]}", None) if name in COMMANDS else None
        if handler is None:
            close = [c for c in COMMANDS if c.startswith(name[:3])] or list(COMMANDS)
            error(f"unknown command {name}; try {', '.join(close)} (or /help)")
            return True
        try:
            handler(argument)
        except (UsageError, ValueError) as err:  # (ValueError: a memory file that cannot be written, named)
            error(str(err))
        return True

    def cmd_help(self, _):
        table = Table(show_header=False, title="commands (Tab completes; Ctrl-R searches history)", title_justify="left")
        for command, text in COMMANDS.items():
            table.add_row(command, text)
        console.print(table)

    @staticmethod
    def positive(argument: str, usage: str, upper: int = 64) -> int:
        if not argument.isdigit() or not 1 <= int(argument) <= upper:
            raise UsageError(f"usage: {usage} (a whole number from 1 to {upper})")
        return int(argument)

    def cmd_beam(self, argument):
        beam = self.positive(argument, "/beam K")
        self.models.set_options(self.options.with_(beam=beam))
        console.print(f"beam {beam}")

    def cmd_nbest(self, argument):
        self.models.set_options(self.options.with_(n_best=self.positive(argument, "/nbest N")))
        console.print(f"showing the {self.options.n_best} best (beam {self.options.beam})")

    def cmd_direction(self, argument):
        if argument not in ("auto", *DIRECTIONS):
            raise UsageError(f"usage: /direction auto|{'|'.join(DIRECTIONS)} (now: {self.models.mode})")
        self.models.set_mode(argument)
        if argument != "auto":
            self.models.start()  # load it now, while the user types
        console.print(f"direction: {argument if argument == 'auto' else ARROWS[argument]}")

    def cmd_model(self, argument):
        if not argument:
            raise UsageError("usage: /model PATH (a run folder)")
        # Load the new model beside the old ones; only once it works does it replace them, so a
        # damaged run folder (its config, vocabularies or model) is reported and the session
        # goes on with the models it had.
        models = None
        try:
            run = resolve_run(argument)
            models = Models.single(run, options=self.options, warm_all_lengths=self.interactive, glossary=self.models.glossary,
                                   graphs=self.models.graphs)
            models.start()
            models.translator(next(iter(models.runs)), spinner=self.interactive)
        except Exception as err:
            if models is not None:
                models.close()

            raise UsageError(f"{first_line(err)} (still using {self.loader.run.path})") from err
        self.models.close()
        self.models, self.last, self.answered = models, None, None
        console.print(f"model: {run.path}")

    def cmd_info(self, _):
        translator = self.loader.get(spinner=self.interactive)
        console.print(model_card(translator))

    def cmd_align(self, _):
        if self.last is None:
            raise UsageError("nothing translated yet")
        translator = self.loader.get(spinner=self.interactive)
        if not translator.model.has_attention:
            raise UsageError("this model has no attention (train with --attention luong)")
        for part in self.last.parts or [self.last]:
            if translator.attention_of(part) is None:
                console.print(f"[dim]{part.source}: nothing was translated (kept as it is)[/]", soft_wrap=True)
                continue
            console.print(alignment_heatmap(part))
            console.print(alignment_peaks(part), soft_wrap=True, markup=False, highlight=False)

    def cmd_glossary(self, argument):
        glossary = self.models.glossary
        action, _, rest = argument.partition(" ")
        if action == "add":
            term, _, target = rest.partition("=")
            if not term.strip():
                raise UsageError("usage: /glossary add TERM = TRANSLATION (or /glossary add TERM to keep it as it is)")
            if glossary is None:
                glossary = self.models.glossary = Glossary()
            glossary.add(term.strip(), target.strip())
            console.print(f"glossary: {term.strip()} → {target.strip() or '(kept as it is)'}")
        elif action == "remove":
            if glossary is None or not glossary.remove(rest.strip()):
                raise UsageError(f"{rest.strip()!r} is not in the glossary")
            console.print(f"glossary: removed {rest.strip()}")
        elif action:
            raise UsageError("usage: /glossary [add TERM = TRANSLATION | remove TERM]")
        elif not glossary:
            console.print("the glossary is empty (/glossary add TERM = TRANSLATION, or --glossary FILE)")
        else:
            console.print(key_value_table("glossary", [(t, v or "(kept as it is)") for t, v in glossary.entries.items()]))

    def cmd_fix(self, argument):
        if self.fixable is None:
            raise UsageError("nothing to correct yet: translate a line first, then /fix its better translation")
        direction, result = self.fixable
        if not argument and self.edit is None:
            raise UsageError("usage: /fix TRANSLATION (the better translation of the last line)")
        try:
            target = argument or self.edit(result.text).strip()
        except (KeyboardInterrupt, EOFError):  # Ctrl-C or Ctrl-D at the edit prompt: nothing kept, the chat goes on
            target = ""
        if not target or target == result.text:
            console.print("[dim]unchanged: nothing kept[/]")
            return
        entry = self.models.correct(direction, result.source, target)
        console.print(f"kept in the translation memory: {entry.source!r} → {entry.target!r} from now on", soft_wrap=True, markup=False)

    def cmd_memory(self, argument):
        if self.models.memory is None:
            raise UsageError("the translation memory is off (--no-memory)")
        count = self.positive(argument or "10", "usage: /memory [N]", upper=1000)
        console.print(entries_table(self.models.memory, self.models.memory.entries(limit=count)))

    def cmd_history(self, argument):
        count = self.positive(argument, "/history [N]", 10_000) if argument else 20
        entries = list(self.history.load_history_strings())[:count][::-1] if self.history else []
        for entry in entries:
            console.print(entry, markup=False, highlight=False)


# ----------------------------------------------------------------------------------------------
# Entry point


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seq2seq-chat", description="Translate what you type. Piped stdin: one translation per input line.")
    p.add_argument("--model", help="run folder: every line goes to it (default: the shipped model of each direction, else the newest run)")
    p.add_argument("--direction", choices=("auto", *DIRECTIONS), default="auto", help="auto: each line by its script (Han → zh-en, Latin → en-zh); or one direction for every line (default: auto)")
    p.add_argument("--history-file", help="history file (default: $SEQ2SEQ_HISTORY or the user state directory)")
    add_decode_options(p, n_best=True)
    add_memory_options(p)
    return p


def run_piped(chat: Chat, stream) -> int:
    """Each input line gives one output line, blank lines included, as soon as it arrives."""
    for line in stream:
        chat.translate_lines([line.rstrip("\r\n")])
    return 0


def run_interactive(chat: Chat, session: PromptSession) -> int:
    console.print("[dim]type a sentence; /fix corrects the last translation; /help for commands; Ctrl-D to leave[/]")
    while True:
        try:
            text = session.prompt("› ")
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line, the session stays
        except EOFError:
            return 0
        if text.strip().startswith("/"):
            if not chat.command(text):
                return 0
            continue
        lines = text.splitlines() or [""]  # a multi-line paste translates line by line
        if any(line.strip() for line in lines):
            try:
                chat.translate_lines([line for line in lines if line.strip()])
            except Exception as err:  # a broken model must not end the session
                error(str(err))


def leave_now(chat: Chat, code: int) -> None:
    """Ctrl-D or /quit leaves at once: a model still loading or compiling in the background is
    not waited for (the history is already on disk; nothing else is pending), so the process
    ends here without the interpreter's shutdown, which would wait for, or abort inside, it."""
    if chat.close(wait=False):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def run():
        interactive = sys.stdin.isatty()
        models = Models.for_session(
            args.model, args.direction, options=decode_options(args), warm_all_lengths=interactive, glossary=glossary_of(args),
            graphs="dynamic", memory=memory_of(args),
        )
        history = private_history(history_path(args.history_file)) if interactive else None
        chat = Chat(models, history=history, interactive=interactive)
        if not interactive:
            try:
                return run_piped(chat, sys.stdin)
            finally:
                chat.close()
        session = PromptSession(
            history=history, auto_suggest=AutoSuggestFromHistory(), completer=SlashCompleter(),
            complete_while_typing=True, enable_history_search=False,
        )
        chat.edit = lambda text: session.prompt("fix › ", default=text)
        try:
            code = run_interactive(chat, session)
        except BaseException:
            chat.close()
            raise
        leave_now(chat, code)
        return code

    return run_main(run)


if __name__ == "__main__":
    sys.exit(main())
