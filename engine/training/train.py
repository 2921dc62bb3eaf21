"""Training: data → vocabularies → model → `fit` with checkpoint, backup, early-stopping, CSV and
progress callbacks, inside a distribution strategy. `train(config, run)` starts a run;
`resume(run)` continues one that was killed (from its backup) or extends one that finished.
"""

from __future__ import annotations

import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from engine.config import RunConfig
from engine.data.encoded import save_plans
from engine.data.parallel import available_cores
from engine.data.prepare import prepare_data
from engine.data.synthetic import keep_in_run
from engine.models.base import PACKAGE, build_model
from engine.runs import RunFolder, RunFolderError, first_line
from engine.training.batches import BatchPlan, distributed
from engine.training.callbacks import (
    AtomicModelCheckpoint,
    KeepLastWeights,
    ResumableBackup,
    RunBookkeeping,
    TrainingReport,
    best_val_loss,
    keep_average_if_better,
)
from engine.training.distribute import is_chief, make_strategy
from engine.training.schedule import BudgetDecay, Warmup

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
        # logits (B, T, V) in float32 under any policy → per-token loss (B, T). The fused
        # softmax cross-entropy's gradient is softmax − one-hot in one pass; picking the target's
        # log-probability out of (B, T, V) instead costs a scatter of the whole tensor.
        logits = ops.cast(y_pred, "float32")
        nll = ops.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), logits, from_logits=True)
        if not self.label_smoothing:
            return nll
        uniform = ops.logsumexp(logits, axis=-1) - ops.mean(logits, axis=-1)  # −mean over V of log-softmax
        return (1 - self.label_smoothing) * nll + self.label_smoothing * uniform

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


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
    ]
    progress = report.progress(len(plan), config.epochs, config.batch_size, backup.resume_at, budgeted=bool(config.max_minutes))
    expect = getattr(progress, "expect", None)  # (a report of its own may show no epoch count)
    callbacks += [RunBookkeeping(run, config.max_minutes, report.say, strategy, None if config.decay == "budget" else expect), progress]
    if config.decay == "budget":
        callbacks.insert(0, BudgetDecay(run, config.learning_rate, len(plan), config.epochs, config.max_minutes,
                                        config.warmup_steps, strategy=strategy, say=report.say, expect=expect))
    elif config.warmup_steps:
        callbacks.insert(0, Warmup(config.warmup_steps, config.learning_rate))
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience))
    if config.lr_patience and config.decay != "budget":
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
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    for first, last, skip in phases:
        if first >= last:
            continue
        model.fit(
            distributed(strategy, lambda shard: plan.dataset(first, skip, replicas=replicas, shard=shard)),  # noqa: B023 (used at once)
            steps_per_epoch=len(plan) - skip,
            validation_data=distributed(strategy, lambda shard: valid_plan.dataset(epochs=1, replicas=replicas, shard=shard))
            if valid_plan is not None else None,
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
        keep_average_if_better(model, keeper, run, valid_plan, report, replicas)
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


def use_cores_op_by_op() -> bool:
    """One thread inside each operation, as many operations at once as this process has cores.
    The training step's products are small (64 × 640 by 640 × 1024 per decoder step): splitting
    each one across the cores costs more than it saves, while independent operations (the
    encoder's two directions, a product and its gradient, the gradient sums) keep every core busy.
    Measured on 2 cores: 1.06× TensorFlow's default samples/s on the default recipe, best of
    two processes each (`benchmarks/train_speed.py --part threads`). seq2seq-train calls this;
    `train` does not, so a process that trains small models between other work (the tests)
    keeps TensorFlow's defaults. TensorFlow takes thread settings only before it
    first runs an operation: in a process that already has, with other settings (a test, a
    notebook), this does nothing and returns False."""
    cores = available_cores()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:  # already initialised
        return False
    return True


def _epochs_planned(config: RunConfig) -> str:
    if not config.max_minutes:
        return f"up to {config.epochs} epochs"
    counted = " (counted after the first epoch)" if config.decay == "budget" else ""
    return f"as many epochs as fit in {config.max_minutes:g} min, at most {config.epochs}{counted}"


def train(config: RunConfig, run: RunFolder, into_existing: bool = False, report: TrainingReport | None = None,
          prepare_only: bool = False) -> keras.Model | None:
    """Train a new run into `run`: a new or empty folder (or, with `into_existing`, a folder
    whose files have none of the run's names; see RunFolder.claim). In a multi-worker run only
    the chief writes `run`; the other workers train into a temporary folder. The encoded data
    goes into the run (data/) first; with `prepare_only` the run stops there (train it with
    `resume`)."""
    report = report or TrainingReport()
    config.validate()
    strategy = make_strategy(config.distribute)  # first: multi-worker collectives are set up at start-up
    keras.utils.set_random_seed(config.seed)
    chief = config.distribute != "multiworker" or is_chief()
    if chief:
        run.check_new(into_existing)
    split, (src_vocab, tgt_vocab), plan, valid_plan, facts = prepare_data(config, stage=report.stage, count=report.count,
                                                                          scratch=run.path.parent if chief else None)
    if chief:
        run.claim(into_existing)
        keep_in_run(run, facts.get("synthetic", []))
    else:
        run = worker_scratch()
    try:
        run.save_config(config)
        run.save_vocabs(src_vocab, tgt_vocab)
        if chief:
            save_plans(run.path, plan, valid_plan)
        if prepare_only:
            run.update_facts(**facts, epochs_done=0, training_seconds=0.0)
            report.say(f"prepared {run.path}: {facts['train_pairs_used']:,} pairs in {len(plan):,} batches; train it with: seq2seq-train --resume {run.path}")
            return None
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
            f"{params:,} parameters, " + _epochs_planned(config)
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
    split, vocabs, plan, valid_plan, facts = prepare_data(config, run.vocabs(), stage=report.stage, run=run, warn=report.warn, count=report.count)
    if chief:
        keep_in_run(run, facts.get("synthetic", []))  # (where the run's own copy was missing or damaged)
        if split is not None:  # prepared from the corpus (data/ missing or damaged): kept for the next resume
            save_plans(run.path, plan, valid_plan)
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
        if chief and "params" not in run.facts():  # (a run prepared with --prepare-only: its first training)
            run.update_facts(params=count_params(model), versions={"keras": keras.__version__, "tensorflow": tf.__version__})
        if epochs is not None:
            writes.save_config(config)  # only now: a resume that fails to load changes nothing
        data = "its prepared data (data/)" if split is None else "the corpus, prepared again"
        report.say(f"resuming {run.path} from {where}, up to {config.epochs} epochs, on {data}")
        return _fit(config, writes, plan, valid_plan, model, backup, start or (done, 0), resuming=True, report=report, strategy=strategy)
    finally:
        if not chief:
            shutil.rmtree(writes.path, ignore_errors=True)
