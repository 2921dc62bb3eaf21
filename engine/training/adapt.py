"""Adaptation: a trained run continued on a person's corrections, into a new run folder.

The base run's best weights, vocabularies and text pipeline are kept; the new run trains for a few
minutes on the corrections (its translation memory's entries of its direction), each seen
CORRECTION_REPEATS times an epoch, mixed with a replay of REPLAY_PER_CORRECTION random pairs of the
base's own training split per correction (at least MIN_REPLAY), so that it learns the corrections
without forgetting the rest. The learning rate is the base recipe's times LEARNING_RATE_SCALE,
held; no early stopping: the last epoch's weights are the new best.keras (the base's validation
split is reported each epoch, to show what is forgotten). The new run's run.json says where it came
from (`adapted_from`, the corrections and replay counts); its decoding.json is the base's.

    seq2seq-train --adapt checkpoints/default --run checkpoints/default-mine --max-minutes 5
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import replace

import keras
import numpy as np

from engine.config import RunConfig
from engine.data.corpus import Split, load_split
from engine.data.files import Pair
from engine.data.prepare import batch_plans, text_pairs
from engine.decoding.rerank import FILE as DECODING_FILE
from engine.models.base import build_model
from engine.runs import RunFolder
from engine.training.batches import encode_pairs
from engine.training.callbacks import AtomicModelCheckpoint, RunBookkeeping, TrainingReport
from engine.training.train import compile_model, count_params

CORRECTION_REPEATS = 8  # times each correction is seen in an epoch
REPLAY_PER_CORRECTION = 4  # pairs of the base's training split per correction seen
MIN_REPLAY = 2000
VALID_PAIRS = 500  # of the base's validation split, reported each epoch
LEARNING_RATE_SCALE = 0.3
EPOCHS = 4


def adapted_config(config: RunConfig, epochs: int, max_minutes: float | None) -> RunConfig:
    """The base's recipe for continuing: a lower held learning rate, no warm-up, no early stop,
    and no pairs added to the data (joined, dictionary, synthetic)."""
    return replace(
        config, epochs=epochs, max_minutes=max_minutes, learning_rate=config.learning_rate * LEARNING_RATE_SCALE, warmup_steps=0,
        decay="plateau", patience=0, lr_patience=0, average_last=0, join_fraction=0.0, dictionary_pairs=0, back_translate=[],
        back_translate_with=None, distribute="none",
    )


def adaptation_pairs(config: RunConfig, corrections: list[Pair]) -> tuple[list[Pair], list[Pair], int]:
    """(training pairs: the corrections repeated and the replay, shuffled; validation pairs: a
    sample of the base's valid split; replay count)."""
    split, _ = load_split(config)
    rng = np.random.default_rng([config.seed, 11])
    count = min(len(split.train), max(MIN_REPLAY, REPLAY_PER_CORRECTION * CORRECTION_REPEATS * len(corrections)))
    replay = [split.train[i] for i in rng.choice(len(split.train), count, replace=False)]
    train = corrections * CORRECTION_REPEATS + replay
    train = [train[i] for i in rng.permutation(len(train))]
    valid = [split.valid[i] for i in rng.choice(len(split.valid), min(VALID_PAIRS, len(split.valid)), replace=False)] if split.valid else []
    return train, valid, count


def adapt(base: RunFolder, run: RunFolder, corrections: list[Pair], max_minutes: float | None = 5.0, epochs: int = EPOCHS,
          report: TrainingReport | None = None) -> dict:
    """Train `run` (a new folder) from `base` on `corrections` (source → target pairs in the base's
    direction; see the module's doc). Returns what run.json records of the adaptation."""
    report = report or TrainingReport()
    if not corrections:
        raise ValueError("no corrections to adapt to: the translation memory holds none in this model's direction")
    base.check_files()
    config = adapted_config(base.config(), epochs, max_minutes)
    src_vocab, tgt_vocab = base.vocabs()
    facts = base.facts()
    run.check_new()
    keras.utils.set_random_seed(config.seed)
    report.stage(f"reading {base.path.name}'s training data for the replay …")
    train, valid, replayed = adaptation_pairs(config, corrections)
    sides = tuple(facts.get("languages", {}).get(side) == "zh" for side in ("source", "target")) if facts.get("languages") else None
    train_pairs, valid_pairs, _ = text_pairs(config, Split(train=train, valid=valid, test=[]), sides=sides)
    plan, valid_plan = batch_plans(config, encode_pairs(train_pairs, src_vocab, tgt_vocab, config.max_len),
                                   encode_pairs(valid_pairs, src_vocab, tgt_vocab) if valid_pairs else None)
    model = build_model(config, len(src_vocab), len(tgt_vocab))
    compile_model(model, config)
    with warnings.catch_warnings():  # (best.keras holds no optimizer state, on purpose: Keras says so)
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(base.best_path)
    run.claim()
    run.save_config(config)
    run.save_vocabs(src_vocab, tgt_vocab)
    if (base.path / DECODING_FILE).is_file():
        shutil.copyfile(base.path / DECODING_FILE, run.path / DECODING_FILE)
    adaptation = {"adapted_from": base.path.name, "corrections": len(corrections), "replay": replayed,
                  "correction_repeats": CORRECTION_REPEATS, "learning_rate": config.learning_rate}
    run.update_facts(**{**facts, "params": count_params(model), "epochs_done": 0, "training_seconds": 0.0, "adaptation": adaptation,
                        "averaged": None})
    report.say(f"adapting {base.path.name} into {run.path}: {len(corrections):,} corrections (×{CORRECTION_REPEATS}) and "
               f"{replayed:,} replayed pairs, {len(plan):,} batches an epoch, up to {epochs} epochs"
               + (f" or {max_minutes:g} min" if max_minutes else ""))
    callbacks = [
        AtomicModelCheckpoint(run.best_path, inference_only=True, save_best_only=False),  # (the last epoch is the adapted model)
        keras.callbacks.CSVLogger(str(run.metrics_path)),
        RunBookkeeping(run, max_minutes, report.say),
        report.progress(len(plan), epochs, config.batch_size),
    ]
    model.fit(plan.dataset(), validation_data=valid_plan.dataset(epochs=1) if valid_plan else None, epochs=epochs,
              steps_per_epoch=len(plan), callbacks=callbacks, shuffle=False, verbose=0)
    return adaptation
