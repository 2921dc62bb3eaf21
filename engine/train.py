"""Training: data → vocabularies → model → `fit` with checkpoint, backup, early-stopping, CSV and
progress callbacks, inside a distribution strategy. `train(config, run)` starts a run;
`resume(run)` continues one that was killed (from its backup) or extends one that finished.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from engine.config import RunConfig
from engine.corpus import Pair, load_split
from engine.data import BatchPlan, encode_pairs
from engine.dictionary import word_pairs
from engine.distribute import chief_value, is_chief, make_strategy
from engine.evaluate import name_lexicon
from engine.model import PACKAGE, build_model
from engine.runs import RunFolder, RunFolderError, first_line, write_atomic
from engine.text.normalise import normalise
from engine.text.pipeline import normalised_pairs, training_pairs
from engine.text.protect import PLACEHOLDERS
from engine.vocab import SUBWORD, SubwordVocab, Vocab, is_chinese, word_counts

# ----------------------------------------------------------------------------------------------
# Loss


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceLoss(keras.losses.Loss):
    """Token cross-entropy from logits with optional label smoothing, averaged over real tokens
    (the per-token weight is 0 on padding, and the reduction divides by the weights' sum)."""

    def __init__(self, label_smoothing=0.0, name="sequence_loss", reduction="mean_with_sample_weight", **kw):
        super().__init__(name=name, reduction=reduction, **kw)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(y_pred, axis=-1)  # (B, T, V)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(y_true, "int32"), -1), -1), -1)
        if not self.label_smoothing:
            return nll
        return (1 - self.label_smoothing) * nll - self.label_smoothing * ops.mean(log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


# ----------------------------------------------------------------------------------------------
# Callbacks


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
        super().__init__(str(self.tmp_path), **kwargs)

    def _save_model(self, epoch, batch, logs):
        if not self._should_save_model(epoch, batch, logs, str(self.final_path)):
            return
        save_atomic(inference_copy(self.model) if self.inference_only else self.model, self.final_path)


def inference_copy(model):
    """The same architecture and weights, uncompiled (no optimizer, no loss)."""
    copy = type(model).from_config(model.get_config())
    copy.build_all()
    copy.set_weights(model.get_weights())
    return copy


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
        state = {"weights": name, "epoch": self.epoch, "step": self.step}
        write_atomic(self.dir / "latest.json", json.dumps(state))
        for old in self._state_files()[2:]:  # keep this one and the one before it
            old.unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        pass  # the backup must outlive the partial-epoch fit; see `finish`

    def finish(self):
        """Remove what the backup wrote (never anything else), then the folder if it is empty."""
        for path in [*self._state_files(), self.dir / "latest.json", *self.dir.glob(".latest.json.*.tmp")]:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.dir.rmdir()


class RunBookkeeping(keras.callbacks.Callback):
    """Records epochs done and training time in run.json; stops once the time budget is spent
    (by the chief's clock, so that every worker of a multi-worker run stops after the same epoch)."""

    def __init__(self, run: RunFolder, max_minutes: float | None, say=print, strategy=None):
        super().__init__()
        self.run, self.max_minutes, self.say, self.strategy = run, max_minutes, say, strategy

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.run.facts().get("training_seconds", 0.0) + time.perf_counter() - self.started
        if self.strategy is not None:
            seconds = chief_value(self.strategy, seconds)
        self.run.update_facts(epochs_done=epoch + 1, training_seconds=round(seconds, 1))
        if self.max_minutes is not None and seconds >= self.max_minutes * 60:
            self.say(f"time budget of {self.max_minutes:g} min spent; stopping after epoch {epoch + 1}")
            self.model.stop_training = True


class Warmup(keras.callbacks.Callback):
    """Raises the learning rate linearly from 0 to its configured value over the first `steps`
    optimizer steps (a Transformer's attention is unstable under full steps from random
    weights). It reads the optimizer's own step count, so a resumed run carries on where it was;
    after the warm-up it leaves the rate alone (ReduceLROnPlateau may lower it)."""

    def __init__(self, steps: int, learning_rate: float):
        super().__init__()
        self.steps, self.learning_rate = steps, learning_rate

    def on_train_begin(self, logs=None):
        self.done = int(self.model.optimizer.iterations.numpy())  # read once, then counted here

    def on_train_batch_begin(self, batch, logs=None):
        if self.done <= self.steps:
            self.model.optimizer.learning_rate.assign(self.learning_rate * min(1.0, (self.done + 1) / self.steps))

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1


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


def keep_average_if_better(model, keeper: KeepLastWeights, run: RunFolder, valid_plan, report) -> None:
    """Checkpoint averaging: the mean of the last epochs' weights becomes best.keras when its
    validation loss is lower than the best single epoch's (often it is: the mean sits in the
    middle of the region the last epochs wandered around)."""
    best = best_val_loss(run)
    if len(keeper.kept) < 2 or valid_plan is None or best is None:
        return
    current = model.get_weights()
    model.set_weights(keeper.average())
    loss = float(model.evaluate(valid_plan.dataset(epochs=1), verbose=0, return_dict=True)["loss"])
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
    """One summary line per epoch: losses, accuracies and seconds (Keras' own bar is off)."""

    def __init__(self, epochs: int, say=print):
        super().__init__()
        self.epochs, self.say = epochs, say

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self.started
        parts = [f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs]
        self.say(f"epoch {epoch + 1}/{self.epochs}  " + "  ".join(parts) + f"  {elapsed:.1f}s")


class TrainingReport:
    """What training tells a person, and how. This default writes plain lines to stderr; the
    command-line tool passes a richer one (repl/training.py: a live progress bar). The engine
    itself never draws anything."""

    def say(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        self.say(f"warning: {message}")

    def progress(self, steps_per_epoch: int, epochs: int, batch_size: int, resume_at=(None, 0)) -> keras.callbacks.Callback:
        """The callback that shows training progress (here: one line per epoch)."""
        return EpochLines(epochs, self.say)


# ----------------------------------------------------------------------------------------------
# Building blocks


def make_optimizer(config: RunConfig) -> keras.optimizers.Optimizer:
    kind = keras.optimizers.Adam if config.optimizer == "adam" else keras.optimizers.RMSprop
    return kind(learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def compile_model(model, config: RunConfig) -> None:
    model.compile(
        optimizer=make_optimizer(config),
        loss=SequenceLoss(config.label_smoothing),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )


def joined_pairs(pairs: list[Pair], fraction: float, seed: int) -> list[Pair]:
    """round(fraction × len(pairs)) extra training pairs, each two random pairs joined (source
    with a space, target as Chinese joins: directly, else with a space). Short Tatoeba sentences
    let a decoder get by on a summary of the sentence; two sentences in one example make it
    find each part where it is, and show it inputs as long as the ones it does worst on."""
    if not fraction or len(pairs) < 2:
        return []
    rng = np.random.default_rng([seed, 7])
    joiner = "" if is_chinese("".join(p.target for p in pairs[:200])) else " "
    firsts = rng.integers(0, len(pairs), round(fraction * len(pairs)))
    seconds = rng.integers(0, len(pairs), len(firsts))
    return [Pair(f"{pairs[a].source} {pairs[b].source}", pairs[a].target + joiner + pairs[b].target) for a, b in zip(firsts, seconds)]


def text_pairs(config: RunConfig, split) -> tuple[list[Pair], list[Pair], dict]:
    """The training and validation pairs as the model reads them. Subword runs: normalised, with
    joined pairs and dictionary pairs added, shared spans as placeholders (engine/text); other
    levels: as the corpus has them, with joined pairs. Returns (train, valid, facts)."""
    if config.level != SUBWORD:
        return split.train + joined_pairs(split.train, config.join_fraction, config.seed), split.valid, {}
    chinese_source = is_chinese("".join(p.source for p in split.train[:500]))
    chinese_target = is_chinese("".join(p.target for p in split.train[:500]))
    train = normalised_pairs(split.train)
    english_first = [Pair(p.target, p.source) for p in train] if chinese_source else train
    names = name_lexicon(english_first) if chinese_source != chinese_target and config.placeholders else {}
    dictionary = [Pair(*p) for p in word_pairs(config.dictionary_pairs, chinese_source, config.seed)] if config.dictionary_pairs else []
    train = train + joined_pairs(train, config.join_fraction, config.seed) + dictionary
    valid = normalised_pairs(split.valid)
    if config.placeholders:
        train = training_pairs(train, chinese_source, names, config.seed, config.name_share)
        valid = training_pairs(valid, chinese_source, names, config.seed + 1, config.name_share)
    placeholders = sum("⟦" in p.source for p in train)
    return train, valid, {"names_for_placeholders": names, "pairs_with_placeholders": placeholders, "dictionary_pairs": len(dictionary)}


def build_vocabs(config: RunConfig, train: list[Pair], corpus: list[Pair]):
    """The run's vocabularies, from its training pairs; the words the source side knows are
    those of the corpus's training split (not the dictionary's)."""
    if config.level != SUBWORD:
        return (
            Vocab.build((p.source for p in train), config.level, config.min_freq),
            Vocab.build((p.target for p in train), config.level, config.min_freq),
        )
    sides = []
    for texts, size in (([p.source for p in train], config.source_vocab_size), ([p.target for p in train], config.target_vocab_size)):
        chinese = is_chinese("".join(texts[:500]))
        kind = "char" if chinese and config.chinese_chars else "unigram"
        sides.append(SubwordVocab.train(texts, size, chinese, lowercase=not chinese, kind=kind, symbols=PLACEHOLDERS))
    if not sides[0].chinese:  # the words the model knows are the corpus's (not the dictionary's)
        sides[0].words = word_counts(normalise(p.source) for p in corpus)
    return sides[0], sides[1]


def prepare_data(config: RunConfig, vocabs: tuple[Vocab, Vocab] | None = None):
    """Corpus → split → pairs as the model reads them → vocabularies (built on the train split
    unless given) → batch plans."""
    split, facts = load_split(config)
    train_pairs, valid_pairs, text_facts = text_pairs(config, split)
    if vocabs is None:
        vocabs = build_vocabs(config, split.train if config.level != SUBWORD else train_pairs, split.train)
    src_vocab, tgt_vocab = vocabs
    train_ids = encode_pairs(train_pairs, src_vocab, tgt_vocab, config.max_len)
    valid_ids = encode_pairs(valid_pairs, src_vocab, tgt_vocab)
    pad_to = 8 if config.jit_compile else 1
    train_plan = BatchPlan(*train_ids, config.batch_size, config.seed, shuffle=True, pad_to=pad_to)
    valid_plan = BatchPlan(*valid_ids, config.batch_size, config.seed, shuffle=False, pad_to=pad_to) if valid_ids[0] else None
    facts |= text_facts | {
        "split": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "train_pairs_used": train_plan.size,
        "vocab": {"source": len(src_vocab), "target": len(tgt_vocab)},
        # the translator splits longer input and caps its output near these
        "max_source_tokens": max(map(len, train_ids[0])),
        "max_target_tokens": max(map(len, train_ids[1])) - 2,
    }
    return split, vocabs, train_plan, valid_plan, facts


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


def check_facts(run: RunFolder) -> dict:
    """run.json's counters, checked before a resume changes anything."""
    facts = run.facts()
    done, seconds = facts.get("epochs_done", 0), facts.get("training_seconds", 0.0)
    if not isinstance(done, int) or isinstance(done, bool) or done < 0:
        raise RunFolderError(f"{run.facts_path}: epochs_done must be a whole number, not {done!r}")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise RunFolderError(f"{run.facts_path}: training_seconds must be a number of seconds, not {seconds!r}")
    return facts


def make_callbacks(config: RunConfig, run: RunFolder, plan: BatchPlan, backup: ResumableBackup, has_valid: bool, resuming: bool,
                   report: TrainingReport, strategy=None):
    monitor = "val_loss" if has_valid else "loss"
    callbacks = [
        backup,
        AtomicModelCheckpoint(
            run.best_path, inference_only=True, monitor=monitor, save_best_only=True,
            initial_value_threshold=best_val_loss(run) if resuming and has_valid else None,
        ),
        AtomicModelCheckpoint(run.last_path, save_best_only=False),
        keras.callbacks.CSVLogger(str(run.metrics_path), append=resuming),
        RunBookkeeping(run, config.max_minutes, report.say, strategy),
        report.progress(len(plan), config.epochs, config.batch_size, backup.resume_at),
    ]
    if config.warmup_steps:
        callbacks.insert(0, Warmup(config.warmup_steps, config.learning_rate))
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience))
    if config.lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=config.lr_patience))
    if config.average_last:
        callbacks.append(KeepLastWeights(config.average_last))
    return callbacks


def count_params(model) -> int:
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))


# ----------------------------------------------------------------------------------------------
# Entry points


def _fit(config: RunConfig, run: RunFolder, plan, valid_plan, model, backup: ResumableBackup, start, resuming: bool,
         report: TrainingReport, strategy=None):
    """Fit from `start` = (epoch, steps of it already done).

    A mid-epoch resume first finishes the interrupted epoch in a fit of its own (Keras learns an
    epoch's length from the first epoch it runs, so a short first epoch would cut later ones).
    """
    epoch, skip = start
    callbacks = make_callbacks(config, run, plan, backup, valid_plan is not None, resuming, report, strategy)
    phases = [(epoch, epoch + 1, skip), (epoch + 1, config.epochs, 0)] if skip else [(epoch, config.epochs, 0)]
    for first, last, skip in phases:
        if first >= last:
            continue
        model.fit(
            plan.dataset(first, skip),
            steps_per_epoch=len(plan) - skip,
            validation_data=valid_plan.dataset(epochs=1) if valid_plan is not None else None,
            epochs=last,
            initial_epoch=first,
            callbacks=callbacks,
            shuffle=False,  # the batch plan orders the data itself
            verbose=0,
        )
        if model.stop_training:
            break
    keeper = next((c for c in callbacks if isinstance(c, KeepLastWeights)), None)
    if keeper is not None and (strategy is None or config.distribute == "none" or is_chief()):
        keep_average_if_better(model, keeper, run, valid_plan, report)
    backup.finish()
    return model


def worker_scratch(run: RunFolder | None = None) -> RunFolder:
    """A temporary run folder for a worker other than the chief: it writes its checkpoints and
    backups there (every worker must save at the same points), never into the chief's run.
    Given `run`, its config, vocabularies, facts and metrics are copied in (to resume)."""
    scratch = RunFolder(tempfile.mkdtemp(prefix="seq2seq-worker-"))
    if run is not None:
        for path in (run.config_path, run.source_vocab_path, run.target_vocab_path, run.facts_path, run.metrics_path):
            if path.is_file():
                shutil.copyfile(path, scratch.path / path.name)
    return scratch


def train(config: RunConfig, run: RunFolder, into_existing: bool = False, report: TrainingReport | None = None) -> keras.Model:
    """Train a new run into `run`: a new or empty folder (or, with `into_existing`, a folder
    whose files have none of the run's names; see RunFolder.claim). In a multi-worker run only
    the chief writes `run`; the other workers train into a temporary folder."""
    report = report or TrainingReport()
    config.validate()
    strategy = make_strategy(config.distribute)  # first: multi-worker collectives are set up at start-up
    keras.utils.set_random_seed(config.seed)
    chief = config.distribute != "multiworker" or is_chief()
    if chief:
        run.check_new(into_existing)
    split, (src_vocab, tgt_vocab), plan, valid_plan, facts = prepare_data(config)
    if chief:
        run.claim(into_existing)
    else:
        run = worker_scratch()
    try:
        run.save_config(config)
        run.save_vocabs(src_vocab, tgt_vocab)
        with strategy.scope():
            model = build_model(config, len(src_vocab), len(tgt_vocab))
            compile_model(model, config)
        params = count_params(model)
        run.update_facts(
            **facts, params=params, epochs_done=0, training_seconds=0.0,
            versions={"keras": keras.__version__, "tensorflow": tf.__version__},
        )
        report.say(
            f"training {run.path}: {facts['train_pairs_used']:,} pairs in {len(plan):,} batches, "
            f"{params:,} parameters, up to {config.epochs} epochs"
            + (f", {strategy.num_replicas_in_sync} replicas" if config.distribute != "none" else "")
        )
        backup = ResumableBackup(run.backup_dir, config.backup_every, warn=report.warn)
        return _fit(config, run, plan, valid_plan, model, backup, (0, 0), resuming=False, report=report, strategy=strategy)
    finally:
        if not chief:
            shutil.rmtree(run.path, ignore_errors=True)


def resume(run: RunFolder, epochs: int | None = None, report: TrainingReport | None = None) -> keras.Model:
    """Continue `run`: from its newest intact backup if it was interrupted, else from last.keras
    (extend it with a larger `epochs`). The optimizer's state and the data order carry on
    unchanged. Nothing in the run changes until the model has loaded. In a multi-worker run
    every worker reads `run` (a shared or copied folder); only the chief writes it."""
    report = report or TrainingReport()
    run.check_files()
    config = run.config()
    check_facts(run)
    best_val_loss(run)  # a damaged run.json or metrics.csv stops the resume here, before anything is written
    if epochs is not None:
        config.epochs = epochs
    strategy = make_strategy(config.distribute)  # first: multi-worker collectives are set up at start-up
    chief = config.distribute != "multiworker" or is_chief()
    keras.utils.set_random_seed(config.seed)
    _, vocabs, plan, valid_plan, _ = prepare_data(config, run.vocabs())
    writes = run if chief else worker_scratch(run)
    try:
        backup = ResumableBackup(writes.backup_dir, config.backup_every, warn=report.warn, restore_from=run.backup_dir)
        done = run.facts().get("epochs_done", 0)
        if not backup.has_state() and done >= config.epochs:
            raise ValueError(f"{run.path}: already trained {done} epochs; pass --epochs N (N > {done}) to extend it")
        with strategy.scope():
            model = build_model(config, len(vocabs[0]), len(vocabs[1]))
            compile_model(model, config)
            start = backup.restore(model)
            if start is None and run.last_path.exists():
                model.optimizer.build(model.trainable_variables)
                try:
                    model.load_weights(run.last_path)
                except Exception as err:
                    raise RunFolderError(f"{run.last_path}: cannot be loaded ({first_line(err)})") from err
        where = "its backup" if start is not None else (f"epoch {done}" if run.last_path.exists() else "the start")
        if epochs is not None:
            writes.save_config(config)  # only now: a resume that fails to load changes nothing
        report.say(f"resuming {run.path} from {where}, up to {config.epochs} epochs")
        return _fit(config, writes, plan, valid_plan, model, backup, start or (done, 0), resuming=True, report=report, strategy=strategy)
    finally:
        if not chief:
            shutil.rmtree(writes.path, ignore_errors=True)
