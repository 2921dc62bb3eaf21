"""The models a session uses, shared by seq2seq-chat, -batch, -serve and -eval: finding run
folders, loading them in a background thread, and sending each line to the model of its
direction (Han characters → zh→en, Latin letters → en→zh; see engine/text/direction.py).

Only the models a session needs are loaded: the first when the session starts, the other
direction's the first time a line needs it (in the background too; the chat shows a spinner).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from engine.config import DecodeOptions
from engine.memory.store import EXACT_ONLY, FUZZY_THRESHOLD, MemoryView
from engine.runs import RunFolder, find_default_run, shipped_run
from engine.text.direction import (
    ARROWS,
    DIRECTIONS,
    EN_ZH,
    OTHER,
    ZH_EN,
    direction_of_script,
    mismatch,
    run_direction,
    script_of,
)
from repl.console import UsageError, console, import_tensorflow

# The shipped model of each direction, as a folder under the checkpoints directory.
SHIPPED = {EN_ZH: "default", ZH_EN: "default-zh-en"}
TRAIN_HINT = {EN_ZH: "seq2seq-train --preset default", ZH_EN: "seq2seq-train --preset default-zh-en"}


def resolve_run(name: str | None):
    """The run folder NAME (a path), or the shipped default model, else the newest run."""
    run = RunFolder(name) if name else find_default_run()
    if run is None:
        raise UsageError("no trained model found; train one with: seq2seq-train --preset default")
    if not run.is_run():
        raise UsageError(f"{run.path}: not a trained run folder (needs config.json and best.keras)")
    return run


def direction_of_run(run) -> str:
    """en-zh, zh-en or other, read from the run's vocabularies (no TensorFlow needed)."""
    return run_direction(*run.vocabs())


def shipped_runs() -> dict:
    """direction → run folder of each shipped model present (checkpoints, else the package)."""
    runs = {}
    for direction, name in SHIPPED.items():
        run = shipped_run(name)
        if run is not None:
            runs[direction] = run
    return runs


class ModelLoader:
    """Loads TensorFlow, one translator and its compiled graphs in a background thread."""

    def __init__(self, run, options: DecodeOptions, warm_all_lengths: bool = False, warn=None, graphs: str = "xla"):
        self.run, self.options, self.warm_all_lengths, self.graphs = run, options, warm_all_lengths, graphs
        self.warn = warn or (lambda m: console.print(f"[yellow]warning:[/] {m}", soft_wrap=True))
        self.translator = None
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._load, daemon=True)
        self.thread.start()

    def _load(self):
        try:
            import_tensorflow()
            from engine.decoding.translate import Translator  # (deferred: imports TensorFlow, seconds)

            translator = Translator(self.run, graphs=self.graphs, warn=self.warn)
            translator.warm_up(self.options)
            self.translator = translator
        except BaseException as err:  # reported to the user on first use
            self.error = err
        finally:
            self.ready.set()
        if self.translator is not None and self.warm_all_lengths:
            # Ready now; compiling the other length buckets here spares the user a pause of
            # about half a second the first time each sentence length comes up.
            try:
                self.translator.warm_up(self.options, all_lengths=True, stop=self.stop)
            except Exception:  # an optimisation only; translating still compiles on demand
                pass

    def rewarm(self, options: DecodeOptions) -> None:
        """Compile the graphs of other decoding options in the background (the chat's /beam K),
        so the next sentence does not wait for them."""
        if self.options == options:
            return
        self.options, before = options, self.thread
        if not self.ready.is_set() or self.translator is None:
            return  # still loading: the load warms up self.options, now the new ones

        def warm():
            before.join()  # one warm-up at a time: this one starts when the one before has ended
            if not self.stop.is_set():
                self.translator.warm_up(options, all_lengths=self.warm_all_lengths, stop=self.stop)

        self.thread = threading.Thread(target=warm, daemon=True)
        self.thread.start()

    def close(self, wait: bool = True) -> bool:
        """Stop the loader after its current step. wait: let it finish that step (leaving the
        interpreter while the thread is inside TensorFlow aborts it at exit). Returns whether the
        thread has ended."""
        self.stop.set()
        if wait:
            self.thread.join()
        return not self.thread.is_alive()

    def get(self, spinner: bool = True):
        if not self.ready.is_set() and spinner:
            with console.status(f"loading the model {self.run.path.name}…"):
                self.ready.wait()
        self.ready.wait()
        if self.error is not None:
            raise self.error
        return self.translator


@dataclass
class Routed:
    """One line's translation and the way it went."""

    direction: str  # en-zh, zh-en or other
    result: object  # engine.decoding.translate.Translation
    mismatch: str | None = None  # the line is in the other script than its model reads


class Models:
    """direction → run folder, each loaded on first use; `translate` routes lines by script.

    mode: "auto" (each line by its script), or a direction that every line takes. With one run
    (--model, $SEQ2SEQ_MODEL, or only one shipped) every line goes to it."""

    def __init__(self, runs: dict, mode: str = "auto", options: DecodeOptions = DecodeOptions(), warm_all_lengths: bool = False, warn=None,
                 glossary=None, graphs: str = "xla", memory=None):
        if not runs:
            raise UsageError("no trained model found; train one with: seq2seq-train --preset default")
        self.runs, self.options, self.warm_all_lengths, self.warn = dict(runs), options, warm_all_lengths, warn
        self.glossary = glossary  # engine.text.glossary.Glossary applied to every line, or None
        self.memory = memory  # engine.memory.store.TranslationMemory looked up before the models, or None
        self.fuzzy = True  # also find similar entries (off where no output would show them)
        # "xla" (batch, eval: fastest per sentence once each shape is compiled) or "dynamic" (the
        # chat: one graph per strategy, so no line ever waits for a compilation)
        self.graphs = graphs
        self.loaders: dict[str, ModelLoader] = {}
        self.mode = "auto"
        self.set_mode(mode)
        self.last = self.fallback = EN_ZH if EN_ZH in self.runs else next(iter(self.runs))

    @classmethod
    def single(cls, run, mode: str = "auto", **kwargs) -> Models:
        """A session of one run folder: every line goes to it."""
        return cls({direction_of_run(run): run}, mode, **kwargs)

    @classmethod
    def for_session(cls, model: str | None = None, direction: str = "auto", **kwargs) -> Models:
        """--model (or $SEQ2SEQ_MODEL) fixes one model; else the shipped model of each direction,
        else the newest run in the checkpoints directory."""
        if model or os.environ.get("SEQ2SEQ_MODEL"):
            return cls.single(resolve_run(model), direction, **kwargs)
        runs = shipped_runs()
        return cls(runs, direction, **kwargs) if runs else cls.single(resolve_run(None), direction, **kwargs)

    @property
    def fixed(self) -> bool:
        return len(self.runs) == 1

    def set_mode(self, mode: str) -> None:
        if mode != "auto" and mode not in DIRECTIONS:
            raise UsageError(f"direction must be auto, {' or '.join(DIRECTIONS)}, not {mode!r}")
        if mode != "auto" and mode not in self.runs and not (self.fixed and OTHER in self.runs):
            have = ", ".join(f"{ARROWS[d]} ({run.path})" for d, run in self.runs.items())
            raise UsageError(f"no {ARROWS[mode]} model in this session (it has {have}); train one with: {TRAIN_HINT[mode]}")
        self.mode = mode

    def direction_for(self, line: str) -> str:
        """Which model translates `line`: the forced direction, the only model, or the script's
        (a line without letters goes the way the previous one went)."""
        if self.fixed:
            return next(iter(self.runs))
        if self.mode != "auto":
            return self.mode
        wanted = direction_of_script(script_of(line))
        if wanted in self.runs:
            self.last = wanted
            return wanted
        return self.last if wanted is None else self.fallback

    def loader(self, direction: str) -> ModelLoader:
        """The loader of `direction`'s model, started now if it was not yet."""
        if direction not in self.loaders:
            self.loaders[direction] = ModelLoader(self.runs[direction], self.options, self.warm_all_lengths, self.warn, self.graphs)
        return self.loaders[direction]

    def start(self) -> None:
        """Begin loading the model of the session's direction (the forced one, else the last used)."""
        self.loader(self.mode if self.mode in self.runs else self.last)

    def translator(self, direction: str, spinner: bool = True):
        return self.loader(direction).get(spinner)

    def translate(self, lines: list[str], spinner: bool = True, **options) -> list[Routed]:
        """Translate `lines`, each with the model of its direction; results in input order.
        options: passed to Translator.translate (the session's DecodeOptions unless given)."""
        options.setdefault("options", self.options)
        options.setdefault("glossary", self.glossary)
        ways = [self.direction_for(line) for line in lines]
        routed: list[Routed | None] = [None] * len(lines)
        for direction in dict.fromkeys(ways):  # each direction once, in order of first use
            indices = [i for i, way in enumerate(ways) if way == direction]
            results = self.translator(direction, spinner).translate([lines[i] for i in indices], memory=self.memory_view(direction), **options)
            for i, result in zip(indices, results):
                routed[i] = Routed(direction, result, mismatch(lines[i], direction))
        return routed

    def memory_view(self, direction: str) -> MemoryView | None:
        """The session's memory as the model of `direction` sees it (None without a memory)."""
        if self.memory is None:
            return None
        return MemoryView(self.memory, direction, self.runs[direction].path.name, FUZZY_THRESHOLD if self.fuzzy else EXACT_ONLY)

    def correct(self, direction: str, source: str, target: str):
        """Keep a person's translation of `source` (served exactly from now on); returns the entry."""
        if self.memory is None:
            raise UsageError("the translation memory is off (--no-memory)")
        return self.memory_view(direction).correct(source, target)

    def set_options(self, options: DecodeOptions) -> None:
        """Decode with `options` from now on; models already loaded compile the new beam now."""
        self.options = options
        for loader in self.loaders.values():
            loader.rewarm(options)

    def close(self, wait: bool = True) -> bool:
        """Stop every loader; returns whether all their threads have ended (see ModelLoader.close)."""
        return all([loader.close(wait) for loader in self.loaders.values()])
