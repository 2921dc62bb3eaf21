"""Distribution strategies: one machine's devices (`mirrored`), or several worker processes on
one or more machines (`multiworker`: TensorFlow's MultiWorkerMirroredStrategy, configured by
TF_CONFIG; no protocol of our own).

In a multi-worker run every worker runs the same training: the same seeded batch order, each
global batch split between the workers (each reads only its share: engine/training/batches.py),
the gradients summed across them. Worker 0 is the chief: it alone writes the run folder; the others write
their checkpoints and backups to a temporary folder of their own, removed when they finish.

This module reads TF_CONFIG without TensorFlow (the command line decides who is chief before it
loads TensorFlow); the strategy itself is made by `make_strategy`.
"""

from __future__ import annotations

import json
import os

KINDS = ("none", "mirrored", "multiworker")


def tf_config_for(workers: list[str], index: int) -> dict:
    """The TF_CONFIG of worker `index` in a cluster of `workers` (host:port each)."""
    if not workers:
        raise ValueError("--workers needs at least one host:port")
    for address in workers:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--workers: {address!r} is not host:port")
    if not 0 <= index < len(workers):
        raise ValueError(f"--worker-index must be from 0 to {len(workers) - 1}, not {index}")
    return {"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}}


def task() -> tuple[int, int]:
    """(this worker's index, number of workers) from TF_CONFIG; (0, 1) without it. A malformed
    TF_CONFIG is a ValueError that says what is wrong."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0, 1
    try:
        spec = json.loads(raw)
        workers = spec["cluster"].get("worker", []) + spec["cluster"].get("chief", [])
        kind, index = spec["task"]["type"], int(spec["task"]["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"TF_CONFIG is not a cluster spec with a task ({err})") from err
    # With a "chief" task type, that task is the chief and workers count from 1.
    if kind == "chief":
        return 0, len(workers)
    return index + ("chief" in spec["cluster"]), len(workers)


def is_chief() -> bool:
    return task()[0] == 0


def make_strategy(kind: str):
    """none: the default strategy; mirrored: all local GPUs, or all logical CPU devices where
    there is no GPU; multiworker: MultiWorkerMirroredStrategy from TF_CONFIG (made before any
    other TensorFlow work: collectives are configured at start-up)."""
    import tensorflow as tf  # (deferred: seq2seq-train reads TF_CONFIG before TensorFlow loads)

    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--distribute multiworker needs TF_CONFIG, or --workers host:port,… with --worker-index N")
        task()  # a malformed TF_CONFIG fails here with a clear message
        patch_keras_for_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)


def is_multi_worker(strategy) -> bool:
    import tensorflow as tf  # (deferred: seq2seq-train reads TF_CONFIG before TensorFlow loads)

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._num_workers > 1


def chief_value(strategy, value: float) -> float:
    """The chief's `value` on every worker (a collective: every worker must call it at the same
    point). Decisions taken from per-worker clocks, such as the time budget, must agree, or one
    worker stops while the others wait for it forever."""
    if not is_multi_worker(strategy):
        return value
    import tensorflow as tf  # (deferred: seq2seq-train reads TF_CONFIG before TensorFlow loads)

    mine = float(value) if is_chief() else 0.0
    summed = strategy.reduce("SUM", strategy.run(lambda: tf.constant(mine, tf.float32)), axis=None)
    return float(summed.numpy())


def patch_keras_for_multi_worker() -> None:
    """Two repairs to Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy (Keras
    3.15; keras-team/keras#20585, tensorflow/tensorflow#72388), both checked by
    tests/test_multiworker.py:
    - each step's logs are averaged across workers with `reduce("MEAN", axis=0)`, which fails on
      the scalar loss ("Invalid reduction dimension 0 for input with 0 dimensions"): scalars are
      averaged with axis=None instead;
    - before the first step Keras reduces a real batch across replicas to learn the input shapes
      (which fails across workers, and takes a batch out of the stream): a one-row batch of the
      same structure, made here, gives the shapes instead.
    """
    import numpy as np  # (deferred with TensorFlow: seq2seq-train reads TF_CONFIG before either loads)
    import tensorflow as tf  # (deferred: seq2seq-train reads TF_CONFIG before TensorFlow loads)
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer.reduce_per_replica, "seq2seq_patched", False):
        return
    original_reduce = tf_trainer.reduce_per_replica
    original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None) if isinstance(v, tf.distribute.DistributedValues) else v,
                values,
            )
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and is_multi_worker(self._distribute_strategy):
            ids = np.full((1, 2), 3, "int32")  # ((source, decoder input), target, weight), as engine/training/batches.py
            return original_build(self, data_batch=((ids, ids), ids, np.ones((1, 2), "float32")))
        return original_build(self, iterator, data_batch)

    reduce_per_replica.seq2seq_patched = True
    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
