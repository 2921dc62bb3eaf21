"""The run folder: where a run's config, vocabularies, models, metrics and scores live.

checkpoints/<run>/
  config.json                 the RunConfig that trained it
  run.json                    facts: corpus, split sizes, parameters, epochs done, training time
  vocab-source.json  vocab-target.json
  best.keras  last.keras      best by validation loss; the latest epoch (with optimizer state)
  backup/                     resumable mid-epoch state (gone once training completes)
  metrics.csv                 one row per epoch
  eval.json                   scores with the sacrebleu signature and decoding settings
  .seq2seq-run                the marker: this folder is a run (written first, by `claim`)

A run folder is never assumed. `claim` refuses a non-empty folder that is not a run, and never
writes over a file it did not write. The run's own files are read and written inside the folder
only: a symbolic link in their place is refused, not followed, and no path is taken from the
run's JSON. A damaged file is a `RunFolderError` that names it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from engine.config import RunConfig
from engine.data.vocab import Vocab, vocab_from_dict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MARKER = ".seq2seq-run"
# Every name a run writes in its folder; `claim` never lets one of them overwrite a stranger's file.
RUN_FILES = (
    "config.json", "run.json", "vocab-source.json", "vocab-target.json", "best.keras", "last.keras",
    "metrics.csv", "eval.json", "backup", "data",
)


class RunFolderError(ValueError):
    """A run folder that cannot be used as it is; the message names the file and what is wrong."""


def first_line(err: BaseException) -> str:
    """An exception as one line for a message (library errors can run to many lines)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class NotARunFolder(RunFolderError):
    """A folder that holds other things than a run (the tools refuse it as a usage error)."""


def checkpoints_dir() -> Path:
    """$SEQ2SEQ_CHECKPOINTS, else the project's `checkpoints/` folder."""
    return Path(os.environ.get("SEQ2SEQ_CHECKPOINTS") or PROJECT_ROOT / "checkpoints")


class AtomicFile:
    """A temporary file beside `path`, renamed over it by `commit` and removed by `discard`,
    so a crash never leaves half a file at `path`."""

    def __init__(self, path: str | Path, suffix: str = ".tmp"):
        self.path = Path(path)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=suffix)
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            self.handle.close()  # (on a full disk this flushes and fails again: the file goes all the same)
        except OSError:
            pass
        finally:
            Path(self.tmp).unlink(missing_ok=True)


def write_atomic(path: str | Path, text: str) -> None:
    out = AtomicFile(path)
    try:
        out.handle.write(text)
        out.commit()
    except BaseException:
        out.discard()
        raise


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    facts_path = property(lambda self: self.path / "run.json")
    source_vocab_path = property(lambda self: self.path / "vocab-source.json")
    target_vocab_path = property(lambda self: self.path / "vocab-target.json")
    best_path = property(lambda self: self.path / "best.keras")
    last_path = property(lambda self: self.path / "last.keras")
    backup_dir = property(lambda self: self.path / "backup")
    metrics_path = property(lambda self: self.path / "metrics.csv")
    eval_path = property(lambda self: self.path / "eval.json")

    @classmethod
    def new(cls, name: str | None = None) -> RunFolder:
        """The folder a new run named `name` goes to (a bare name lives under checkpoints/)."""
        name = name or time.strftime("run-%Y%m%d-%H%M%S")
        return cls(checkpoints_dir() / name if os.sep not in name else name)

    # ---------------------------------------------------------------- what the folder is
    def is_run(self) -> bool:
        """A trained run: its config and a model (runs older than the marker have no marker)."""
        return self.config_path.is_file() and (self.best_path.is_file() or self.last_path.is_file())

    def check_new(self, into_existing: bool = False) -> None:
        """Refuse (NotARunFolder) to start a new run here: a folder that already holds a run, a
        non-empty folder that is not a run (unless `into_existing`), or one where a file of the
        run's names already exists (never, since it is not the run's to replace). Writes nothing."""
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            raise NotARunFolder(f"{self.path}: not a folder")
        if self.config_path.exists() or os.path.lexists(self.path / MARKER):
            raise NotARunFolder(f"{self.path} already holds a run; use --resume {self.path} or another --run")
        strangers = sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []
        if strangers and not into_existing:
            raise NotARunFolder(
                f"{self.path} is not empty and not a run folder ({', '.join(strangers[:3])}"
                f"{', …' if len(strangers) > 3 else ''}); choose another --run, or pass --into-existing"
            )
        taken = sorted(name for name in RUN_FILES if os.path.lexists(self.path / name))
        if taken:
            raise NotARunFolder(f"{self.path}: {', '.join(taken)} would be overwritten; it is not this run's to replace")

    def claim(self, into_existing: bool = False) -> None:
        """Make this folder a new run's: `check_new`, then create it and write the marker
        (exclusively, so two runs started at once cannot both claim it)."""
        self.check_new(into_existing)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.path / MARKER, "x", encoding="utf-8") as marker:
                marker.write("seq2seq run folder\n")
        except FileExistsError as err:
            raise NotARunFolder(f"{self.path} was claimed by another run just now") from err

    def own(self, path: Path) -> Path:
        """`path` if it may be read or written as one of this run's files: not a symbolic link,
        and not a file with other hard links (either would read or write outside the run)."""
        if path.is_symlink():
            raise RunFolderError(f"{path}: is a symbolic link; a run's files must be its own (links are not followed)")
        if path.is_file() and path.stat().st_nlink > 1:
            raise RunFolderError(f"{path}: has other hard links; a run's files must be its own (it would write into the other file too)")
        return path

    def check_files(self) -> None:
        """Refuse a run whose own files (or backup folder) are links, before anything is written."""
        for name in (*RUN_FILES, MARKER):
            self.own(self.path / name)
        if self.backup_dir.is_dir():
            for path in self.backup_dir.iterdir():
                self.own(path)

    def model_path(self) -> Path:
        """The model to translate with: best by validation loss, else the last saved."""
        for path in (self.best_path, self.last_path):
            if self.own(path).exists():
                return path
        raise RunFolderError(f"{self.path}: no best.keras or last.keras in this run folder")

    # ---------------------------------------------------------------- reading and writing
    def read_json(self, path: Path, missing_ok: bool = True) -> dict:
        """A JSON object from one of the run's files ({} if absent and `missing_ok`)."""
        if not self.own(path).exists():
            if missing_ok:
                return {}
            raise RunFolderError(f"{path}: missing")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as err:
            raise RunFolderError(f"{path}: not UTF-8 text (byte {err.start + 1})") from err
        except json.JSONDecodeError as err:
            raise RunFolderError(f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from err
        if not isinstance(data, dict):
            raise RunFolderError(f"{path}: a JSON object was expected, not {type(data).__name__}")
        return data

    def config(self) -> RunConfig:
        data = self.read_json(self.config_path, missing_ok=False)
        try:
            return RunConfig.from_dict(data)
        except (TypeError, ValueError) as err:
            raise RunFolderError(f"{self.config_path}: {err}") from err

    def save_config(self, config: RunConfig) -> None:
        write_atomic(self.own(self.config_path), config.to_json())

    def vocabs(self) -> tuple[Vocab, Vocab]:
        vocabs = []
        for path in (self.source_vocab_path, self.target_vocab_path):
            data = self.read_json(path, missing_ok=False)
            try:
                vocabs.append(vocab_from_dict(data))
            except (KeyError, TypeError, ValueError) as err:
                raise RunFolderError(f"{path}: not a vocabulary ({err})") from err
        return vocabs[0], vocabs[1]

    def save_vocabs(self, source: Vocab, target: Vocab) -> None:
        write_atomic(self.own(self.source_vocab_path), source.to_json())
        write_atomic(self.own(self.target_vocab_path), target.to_json())

    def facts(self) -> dict:
        return self.read_json(self.facts_path)

    def update_facts(self, **facts) -> None:
        write_atomic(self.own(self.facts_path), json.dumps({**self.facts(), **facts}, indent=2, ensure_ascii=False))

    def evaluation(self) -> dict:
        return self.read_json(self.eval_path)

    def record_evaluation(self, split_name: str, report: dict) -> None:
        """Keep a report in eval.json under its split's name (examples left out)."""
        recorded = self.evaluation()
        recorded[split_name] = {k: v for k, v in report.items() if k != "examples"}
        write_atomic(self.own(self.eval_path), json.dumps(recorded, indent=2, ensure_ascii=False))


# The shipped models by name. In a checkout they live in `checkpoints/`; a built wheel carries
# them inside the `engine` package as `engine/shipped/<name>/` (see pyproject.toml).
SHIPPED_NAMES = ("default", "default-zh-en")


def packaged_dir() -> Path:
    """Where an installed wheel keeps the shipped models (absent in a checkout)."""
    return Path(str(files("engine"))) / "shipped"


def shipped_run(name: str = "default") -> RunFolder | None:
    """The shipped model `name`: the checkpoints directory's (a checkout, or
    $SEQ2SEQ_CHECKPOINTS), else the one installed with the package; None if neither has it."""
    for root in (checkpoints_dir(), packaged_dir()):
        run = RunFolder(root / name)
        if run.is_run():
            return run
    return None


def named_run(name: str, beside: Path | None = None) -> RunFolder | None:
    """The trained run that `name` names: a folder's path, else one next to the folder `beside`
    (as the shipped models name each other), else a shipped model's name (default-zh-en); None
    if none is a trained run."""
    for candidate in (RunFolder(name), *([RunFolder(beside / name)] if beside is not None else [])):
        if candidate.is_run():
            return candidate
    return shipped_run(name)


def is_shipped(run: RunFolder) -> bool:
    """Whether `run` is one of the shipped models of this checkout (its files are tracked)."""
    try:
        return run.path.resolve() in {(PROJECT_ROOT / "checkpoints" / name).resolve() for name in SHIPPED_NAMES}
    except OSError:
        return False


def is_packaged(run: RunFolder) -> bool:
    """Whether `run` is one of the models installed with the package (read-only: never written)."""
    try:
        return run.path.resolve().is_relative_to(packaged_dir().resolve())
    except OSError:
        return False


def find_default_run() -> RunFolder | None:
    """$SEQ2SEQ_MODEL, else the shipped `default` (checkpoints, then the installed package),
    else the newest run folder."""
    if os.environ.get("SEQ2SEQ_MODEL"):
        return RunFolder(os.environ["SEQ2SEQ_MODEL"])
    default = shipped_run("default")
    if default is not None:
        return default
    root = checkpoints_dir()
    runs = [RunFolder(p) for p in root.glob("*") if p.is_dir()] if root.exists() else []
    runs = [run for run in runs if run.is_run()]
    return max(runs, key=lambda run: run.model_path().stat().st_mtime) if runs else None
