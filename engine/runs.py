"""The run folder: where a run's config, vocabularies, models, metrics and scores live.

checkpoints/<run>/
  config.json                 the RunConfig that trained it
  run.json                    facts: corpus, split sizes, parameters, epochs done, training time
  vocab-source.json  vocab-target.json
  best.keras  last.keras      best by validation loss; the latest epoch (with optimizer state)
  backup/                     resumable mid-epoch state (gone once training completes)
  metrics.csv                 one row per epoch
  eval.json                   scores with the sacrebleu signature and decoding settings
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from engine.config import RunConfig
from engine.vocab import Vocab

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
        self.handle.close()
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
        name = name or time.strftime("run-%Y%m%d-%H%M%S")
        run = cls(checkpoints_dir() / name if os.sep not in name else name)
        run.path.mkdir(parents=True, exist_ok=True)
        return run

    def model_path(self) -> Path:
        """The model to translate with: best by validation loss, else the last saved."""
        for path in (self.best_path, self.last_path):
            if path.exists():
                return path
        raise FileNotFoundError(f"{self.path}: no best.keras or last.keras in this run folder")

    def is_run(self) -> bool:
        return self.config_path.exists() and (self.best_path.exists() or self.last_path.exists())

    def config(self) -> RunConfig:
        return RunConfig.load(self.config_path)

    def save_config(self, config: RunConfig) -> None:
        write_atomic(self.config_path, config.to_json())

    def vocabs(self) -> tuple[Vocab, Vocab]:
        return Vocab.load(self.source_vocab_path), Vocab.load(self.target_vocab_path)

    def save_vocabs(self, source: Vocab, target: Vocab) -> None:
        source.save(self.source_vocab_path)
        target.save(self.target_vocab_path)

    def read_json(self, path: Path) -> dict:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def facts(self) -> dict:
        return self.read_json(self.facts_path)

    def update_facts(self, **facts) -> None:
        write_atomic(self.facts_path, json.dumps({**self.facts(), **facts}, indent=2, ensure_ascii=False))

    def evaluation(self) -> dict:
        return self.read_json(self.eval_path)


def find_default_run() -> RunFolder | None:
    """$SEQ2SEQ_MODEL, else the shipped `checkpoints/default`, else the newest run folder."""
    if os.environ.get("SEQ2SEQ_MODEL"):
        return RunFolder(os.environ["SEQ2SEQ_MODEL"])
    root = checkpoints_dir()
    default = RunFolder(root / "default")
    if default.is_run():
        return default
    runs = [RunFolder(p) for p in root.glob("*") if p.is_dir()] if root.exists() else []
    runs = [run for run in runs if run.is_run()]
    return max(runs, key=lambda run: run.model_path().stat().st_mtime) if runs else None
