"""The callbacks of training (engine/training/train.py): atomic checkpoints, exact-resume backups, run
bookkeeping and time budget, checkpoint averaging, progress lines, and
`TrainingReport`, the hooks through which training talks to a person (the engine draws nothing).
The learning-rate schedules are in engine/training/schedule.py."""

from __future__ import annotations

import collections
import contextlib
import csv
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import keras
import numpy as np

from engine.runs import RunFolder, RunFolderError, first_line, write_atomic
from engine.training.distribute import chief_value


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes a temporary `.keras` file and renames it over the target, so a
    kill during the save never leaves a corrupt model behind.

    `inference_only` saves a copy without the optimizer's state (a third of the size with Adam):
    right for best.keras, which is only ever translated with; last.keras keeps the optimizer so
    that a finished run can be extended.
    """

    def __init__(self, filepath, inference_only: bool = False, **kwargs):
        self.final_path = Path(filepath)
        self.tmp_path = self.final_path.with_name(f".{self.final_path.stem}.tmp.keras")
        self.inference_only = inference_only
        self.copy = None  # (the inference copy, built once: building a model costs up to a second)
        super().__init__(str(self.tmp_path), **kwargs)

    def _save_model(self, epoch, batch, logs):
        if not self._should_save_model(epoch, batch, logs, str(self.final_path)):
            return
        model = self.model
        if self.inference_only:
            model = self.copy = inference_copy(self.model, self.copy)
        save_atomic(model, self.final_path)


def inference_copy(model, copy=None):
    """The same architecture and weights, uncompiled (no optimizer, no loss); into `copy`, an
    earlier inference copy of the same model, when given."""
    if copy is None:
        copy = type(model).from_config(model.get_config())
        copy.build_all()
    copy.set_weights(model.get_weights())
    return copy


def seed_states(model) -> list:
    """The state variables of the model's random streams (each Dropout's SeedGenerator): in
    model.variables, not in its weights, so save_weights leaves them out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that resumes mid-epoch, exactly.

    Every `save_freq` steps and at each epoch's end it writes the weights with the optimizer's
    state (Keras' `save_weights` includes the optimizer) to a new file, then atomically points
    `latest.json` at it with (epoch, step in epoch). `restore` loads both back; training then
    skips the steps the interrupted epoch already did, so the data order is the one an
    uninterrupted run sees. The two newest state files are kept: if the newest (or latest.json)
    is damaged, `restore` falls back to the other. `finish` removes what the backup wrote once
    the whole run is done.
    """

    STATE_NAME = re.compile(r"state-(\d{4})-(\d{7})\.weights\.h5")
    SEEDS_SUFFIX = ".seeds.json"  # beside each state file: where the dropout's random streams stand

    def __init__(self, backup_dir, save_freq: int, warn=None, restore_from=None):
        """restore_from: the folder to restore from, when it is not the one written (a worker
        other than the chief restores the chief's backup and writes its own elsewhere)."""
        super().__init__(str(backup_dir), save_freq=save_freq)
        self.dir = Path(backup_dir)
        self.source = Path(restore_from) if restore_from is not None else self.dir
        self.epoch, self.step, self.since_save = 0, 0, 0
        self.resume_at = (None, 0)
        self.warn = warn or (lambda message: None)

    def _state_files(self, folder: Path | None = None) -> list[Path]:
        """The state files in `folder` (default: the one written), newest first (their names
        hold epoch and step)."""
        folder = folder or self.dir
        if not folder.is_dir():
            return []
        return sorted((p for p in folder.iterdir() if self.STATE_NAME.fullmatch(p.name)), key=lambda p: p.name, reverse=True)

    def has_state(self) -> bool:
        return (self.source / "latest.json").exists() or bool(self._state_files(self.source))

    def _candidates(self) -> list[Path]:
        """State files to try, best first: the one latest.json names (if it names one of ours),
        then the others, newest first. A damaged latest.json is reported and skipped."""
        files = self._state_files(self.source)
        pointer = self.source / "latest.json"
        if pointer.exists():
            try:
                named = json.loads(pointer.read_text(encoding="utf-8"))["weights"]
                if not (isinstance(named, str) and self.STATE_NAME.fullmatch(named)):
                    raise ValueError(f"names {named!r}, not a state file of this folder")
                files = [self.source / named] + [f for f in files if f.name != named]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
                self.warn(f"{pointer}: damaged ({err}); trying the newest intact state file instead")
        return files

    def restore(self, model) -> tuple[int, int] | None:
        """Load the newest intact backup into `model` (optimizer included); returns (epoch, step),
        or None when there is no backup. Raises RunFolderError when every state file is damaged."""
        candidates = self._candidates()
        if not candidates:
            return None
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for path in candidates:
            if path.is_symlink() or not path.is_file():
                self.warn(f"{path}: missing or a link; skipped")
                continue
            try:
                model.load_weights(path)
            except Exception as err:  # a truncated or foreign file: try the next one
                self.warn(f"{path}: damaged ({first_line(err)}); skipped")
                continue
            self._restore_seeds(model, path)
            epoch, step = map(int, self.STATE_NAME.fullmatch(path.name).groups())
            self.resume_at = (epoch, step)
            return self.resume_at
        raise RunFolderError(f"{self.source}: every backup state file is damaged ({', '.join(p.name for p in candidates)})")

    def on_train_begin(self, logs=None):
        pass  # restoring happens before fit, in `restore`

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.since_save = epoch, 0
        self.step = self.resume_at[1] if epoch == self.resume_at[0] else 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.since_save += 1
        if self.since_save >= self.save_freq:
            self.since_save = 0
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch, self.step = epoch + 1, 0
        self._save_model()

    def _save_model(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"state-{self.epoch:04d}-{self.step:07d}.weights.h5"
        self.model.save_weights(self.dir / name, overwrite=True)
        write_atomic(self._seeds_file(self.dir / name), json.dumps([np.asarray(v).tolist() for v in seed_states(self.model)]))
        state = {"weights": name, "epoch": self.epoch, "step": self.step}
        write_atomic(self.dir / "latest.json", json.dumps(state))
        for old in self._state_files()[2:]:  # keep this one and the one before it
            old.unlink(missing_ok=True)
            self._seeds_file(old).unlink(missing_ok=True)

    def _seeds_file(self, state_file: Path) -> Path:
        return state_file.with_name(state_file.name.removesuffix(".weights.h5") + self.SEEDS_SUFFIX)

    def _restore_seeds(self, model, state_file: Path) -> None:
        """Put the dropout's random streams where they stood at `state_file` (the weights do not
        hold them): the resumed steps draw the masks the uninterrupted run drew. A backup from
        before the seeds were kept resumes as it did (the masks then differ)."""
        path, states = self._seeds_file(state_file), seed_states(model)
        if not path.is_file():
            return
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            if len(values) != len(states):
                raise ValueError(f"{len(values)} random streams, the model has {len(states)}")
            for variable, value in zip(states, values):
                variable.assign(np.asarray(value, dtype=variable.dtype))
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self.warn(f"{path}: damaged ({first_line(err)}); resuming with fresh dropout masks")

    def on_train_end(self, logs=None):
        pass  # the backup must outlive the partial-epoch fit; see `finish`

    def finish(self):
        """Remove what the backup wrote (never anything else), then the folder if it is empty."""
        for path in [*self._state_files(), *self.dir.glob(f"state-*{self.SEEDS_SUFFIX}"), self.dir / "latest.json",
                     *self.dir.glob(".latest.json.*.tmp"), *self.dir.glob(f".state-*{self.SEEDS_SUFFIX}.*.tmp")]:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.dir.rmdir()


class RunBookkeeping(keras.callbacks.Callback):
    """Records epochs done and training time in run.json; stops once the time budget is spent
    (by the chief's clock, so that every worker of a multi-worker run stops after the same epoch)."""

    def __init__(self, run: RunFolder, max_minutes: float | None, say=print, strategy=None, expect=None):
        super().__init__()
        self.run, self.max_minutes, self.say, self.strategy = run, max_minutes, say, strategy
        # expect(epochs, exact=False): told after each epoch how many a time budget will fit at the
        # last epoch's pace (the progress shows `epoch 3/~9`); None where the budget schedule plans them
        self.expect = expect

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.run.facts().get("training_seconds", 0.0) + time.perf_counter() - self.started
        if self.strategy is not None:
            seconds = chief_value(self.strategy, seconds)
        self.run.update_facts(epochs_done=epoch + 1, training_seconds=round(seconds, 1))
        if self.max_minutes is not None and self.expect is not None:
            pace = max(time.perf_counter() - self.started, 1e-3)  # this epoch's seconds: the pace of the next
            self.expect(epoch + 1 + math.ceil(max(0.0, self.max_minutes * 60 - seconds) / pace), exact=False)
        if self.max_minutes is not None and seconds >= self.max_minutes * 60 and not self.model.stop_training:
            self.say(f"time budget of {self.max_minutes:g} min spent; stopping after epoch {epoch + 1}")
            self.model.stop_training = True


class KeepLastWeights(keras.callbacks.Callback):
    """Keeps the model's weights at the end of each of the last `count` epochs (in memory: a
    resumed run averages the epochs it trained itself)."""

    def __init__(self, count: int):
        super().__init__()
        self.kept = collections.deque(maxlen=count)

    def on_epoch_end(self, epoch, logs=None):
        self.kept.append([np.array(w) for w in self.model.get_weights()])

    def average(self):
        return [np.mean(ws, axis=0) for ws in zip(*self.kept)]


def keep_average_if_better(model, keeper: KeepLastWeights, run: RunFolder, valid_plan, report, replicas: int = 1) -> None:
    """Checkpoint averaging: the mean of the last epochs' weights becomes best.keras when its
    validation loss is lower than the best single epoch's (often it is: the mean sits in the
    middle of the region the last epochs wandered around)."""
    best = best_val_loss(run)
    if len(keeper.kept) < 2 or valid_plan is None or best is None:
        return
    current = model.get_weights()
    model.set_weights(keeper.average())
    loss = float(model.evaluate(valid_plan.dataset(epochs=1, replicas=replicas), verbose=0, return_dict=True)["loss"])
    better = loss < best
    if better:
        save_atomic(inference_copy(model), run.best_path)
    model.set_weights(current)
    run.update_facts(averaged={"epochs": len(keeper.kept), "val_loss": round(loss, 4), "best_single_val_loss": round(best, 4), "kept": better})
    report.say(f"average of the last {len(keeper.kept)} epochs: val_loss {loss:.4f} against {best:.4f} for the best epoch; "
               + ("best.keras is the average" if better else "best.keras stays the best epoch"))


def save_atomic(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    tmp.unlink(missing_ok=True)
    model.save(tmp)
    os.replace(tmp, path)


class EpochLines(keras.callbacks.Callback):
    """One summary line per epoch: losses, accuracies and seconds (Keras' own bar is off).
    budgeted: a time budget decides how many epochs run, so the count shown is the one the
    budget fits (`expect`), not the most allowed: none in the first epoch, then `~9` where
    estimated at the last epoch's pace or `9` where the budget schedule fixed it."""

    def __init__(self, epochs: int, say=print, budgeted: bool = False):
        super().__init__()
        self.epochs, self.say = epochs, say
        self.planned: str | None = None if budgeted else str(epochs)

    def expect(self, epochs: int, exact: bool = True) -> None:
        epochs = min(epochs, self.epochs)
        self.planned = str(epochs) if exact or epochs == self.epochs else f"~{epochs}"

    def label(self, epoch: int) -> str:
        """`3/9`, `3/~9`, or `3` while a time budget's count is not known yet."""
        return f"{epoch + 1}/{self.planned}" if self.planned else f"{epoch + 1}"

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self.started
        parts = [f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs]
        self.say(f"epoch {self.label(epoch)}  " + "  ".join(parts) + f"  {elapsed:.1f}s")


class TrainingReport:
    """What training tells a person, and how. This default writes plain lines to stderr; the
    command-line tool passes a richer one (repl/training.py: a live progress bar). The engine
    itself never draws anything."""

    def say(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        self.say(f"warning: {message}")

    def stage(self, message: str) -> None:
        """What training is doing before its first epoch starts (reading, preparing): a
        passing status, not a line of the log (this default shows nothing)."""

    def count(self, done: int, total: int) -> None:
        """How far the current stage is, in pairs (a progress bar; this default shows nothing)."""

    def progress(self, steps_per_epoch: int, epochs: int, batch_size: int, resume_at=(None, 0), budgeted: bool = False) -> keras.callbacks.Callback:
        """The callback that shows training progress (here: one line per epoch); see EpochLines."""
        return EpochLines(epochs, self.say, budgeted)


def best_val_loss(run: RunFolder) -> float | None:
    """The best validation loss so far (from metrics.csv), so a resumed run's best.keras is only
    replaced by a better model. A damaged file is a RunFolderError naming it and its line."""
    if not run.own(run.metrics_path).exists():
        return None
    values = []
    with open(run.metrics_path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            if row.get("val_loss"):
                try:
                    values.append(float(row["val_loss"]))
                except ValueError:
                    raise RunFolderError(f"{run.metrics_path}:{number}: val_loss must be a number, not {row['val_loss']!r}") from None
    return min(values) if values else None
