"""Batches for training: token ids, length bucketing, padded batches, teacher-forcing shift.

Memory: the corpus is held once as two flat int32 arrays (a few bytes a token; memory-mapped from a
run's data/ folder), and each batch is gathered from them when it is read: a worker of a
multi-worker run reads only its own rows. Each batch is padded only to its own longest sentence,
and targets stay sparse ids (no one-hot anywhere).

Bucketing and resumability: pairs are sorted by length once (ties broken by a seeded shuffle) and
cut into fixed batches, so each batch holds sentences of similar length. Every epoch visits the
same batches in an order drawn from (seed, epoch). A resumed run therefore knows exactly which
batches an interrupted epoch still has to see, and `skip` starts there.

For training, `dataset()` is one endless stream of epochs and `fit` gets `steps_per_epoch`: Keras
then keeps one iterator for the whole fit, never runs dry, and the stream itself knows the epoch.
(With a finite dataset of unknown length Keras makes a failing extra call at each epoch's end
that still advances the optimizer's step counter, and it builds the next epoch's iterator before
`on_epoch_begin`, so neither callbacks nor iterator counts can steer the order reliably.)
"""

from __future__ import annotations

import array
import itertools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from engine.data.files import Pair
from engine.data.vocab import BOS, EOS, Vocab
from engine.training.distribute import is_multi_worker

ENCODE_CHUNK = 50_000  # pairs encoded at a time


def encode_pairs(pairs: list[Pair], src_vocab: Vocab, tgt_vocab: Vocab, max_len: int | None = None,
                 done=lambda count: None) -> tuple[Encoded, Encoded]:
    """Pairs → (source ids, target ids with BOS … EOS) as flat arrays (Encoded: a few bytes a
    token, where lists of Python ints cost ~36); pairs over max_len tokens dropped. done(count):
    the pairs encoded so far, after each chunk (a progress bar)."""
    src_flat, tgt_flat, src_lengths, tgt_lengths = array.array("i"), array.array("i"), array.array("q"), array.array("q")
    for start in range(0, len(pairs), ENCODE_CHUNK):  # (lists of ids for a chunk at a time only)
        chunk = pairs[start : start + ENCODE_CHUNK]
        for src, tgt in zip(src_vocab.encode_all([p.source for p in chunk]), tgt_vocab.encode_all([p.target for p in chunk])):
            if max_len is not None and (len(src) > max_len or len(tgt) > max_len):
                continue
            src_flat.extend(src)
            tgt_flat.extend((BOS, *tgt, EOS))
            src_lengths.append(len(src))
            tgt_lengths.append(len(tgt) + 2)
        done(start + len(chunk))
    as_encoded = lambda flat, lengths: Encoded(np.frombuffer(flat, np.int32), np.frombuffer(lengths, np.int64))  # noqa: E731
    return as_encoded(src_flat, src_lengths), as_encoded(tgt_flat, tgt_lengths)


@dataclass(frozen=True)
class Encoded:
    """Token id sequences as one flat int32 array and their lengths (int64): a split's side as
    it is held in memory and kept on disk (engine/data/encoded.py), a few bytes a token."""

    flat: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, sequences: list[list[int]]) -> Encoded:
        lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
        return cls(np.fromiter((t for s in sequences for t in s), np.int32, int(lengths.sum())), lengths)

    def __len__(self) -> int:
        return len(self.lengths)


def _to_model_inputs(src, tgt, real):
    """Padded (B, S), (B, T+1), the number of real rows → ((source, decoder input), decoder
    target, per-token weight); rows past `real` (copies that fill a batch out to the replicas)
    weigh nothing.

    Teacher-forcing shift: the decoder reads BOS y1 … yn and must predict y1 … yn EOS.
    """
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    weight = tf.cast(tf.not_equal(tgt_out, 0), tf.float32)
    weight *= tf.cast(tf.sequence_mask(real, tf.shape(tgt_out)[0]), tf.float32)[:, None]
    return (src, tgt_in), tgt_out, weight


def row_starts(lengths: np.ndarray, tokens: int) -> np.ndarray:
    """Where each row starts in its side's flat array of `tokens` ids: (N,) 0 then the running
    sum, in 4 bytes a row where the offsets fit (under 2^32 tokens), else 8."""
    starts = np.zeros(len(lengths), np.uint32 if tokens < 2**32 else np.int64)
    np.cumsum(lengths[:-1], out=starts[1:], dtype=starts.dtype)
    return starts


class BatchPlan:
    """Fixed length-bucketed batches of one split, visited in a per-epoch seeded order."""

    def __init__(self, sources, targets, batch_size: int, seed: int, shuffle: bool = True, pad_to: int = 1):
        """sources, targets: id lists or Encoded (a run's data/ reads them memory-mapped: a batch
        reads its own rows, and the corpus is never copied whole). pad_to: pad each batch's widths
        up to a multiple of this (XLA-compiled training compiles once per shape; multiples of 8
        leave a few shapes instead of hundreds)."""
        sources, targets = (side if isinstance(side, Encoded) else Encoded.of(side) for side in (sources, targets))
        if not len(sources):
            raise ValueError("no sentence pairs left to batch (check --max-len and --max-pairs)")
        self.size = len(sources)
        self.encoded = sources, targets
        self.seed, self.shuffle, self.pad_to = seed, shuffle, pad_to
        self._starts = tuple(row_starts(side.lengths, len(side.flat)) for side in self.encoded)
        rng = np.random.default_rng(seed)
        # by length, ties shuffled; the keys and the order in 4 bytes a row where they fit (millions
        # of rows: the order is the same, in half the memory)
        # (a shuffled int32 range is the permutation permutation(n) gives, drawn the same way)
        narrow = np.int32 if len(sources) < 2**31 else np.int64
        lengths = np.maximum(sources.lengths, targets.lengths, out=np.empty(len(sources), narrow), casting="unsafe")
        order = np.lexsort((rng.permutation(np.arange(len(sources), dtype=narrow)), lengths)).astype(narrow)
        del lengths
        self.batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def __len__(self) -> int:
        return len(self.batches)

    def batch_order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.batches))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.batches))

    def _padded(self, side: int, rows: np.ndarray, mine: np.ndarray, extra: int = 0) -> np.ndarray:
        """Rows `mine` of side 0 (sources) or 1 (targets) as a zero-padded (len(mine), W) array; W
        is the longest of the whole batch `rows`, rounded up to pad_to (+ extra: the target's
        shift adds one), so that every replica's share of a batch has the batch's width."""
        encoded, starts = self.encoded[side], self._starts[side]
        width = int(encoded.lengths[rows].max())
        if self.pad_to > 1:
            width = extra + -(-(width - extra) // self.pad_to) * self.pad_to
        out = np.zeros((len(mine), width), np.int32)
        for r, (start, length) in enumerate(zip(starts[mine], encoded.lengths[mine])):
            out[r, :length] = encoded.flat[start : start + length]
        return out

    def dataset(self, first_epoch: int = 0, skip: int = 0, epochs: int | None = None, replicas: int = 1,
                shard: tuple[int, int] | None = None) -> tf.data.Dataset:
        """((source, decoder input), target, weight) batches of epochs first_epoch, first_epoch+1, …
        (`epochs` of them, or endlessly); the first epoch starts `skip` batches in.

        replicas: under a distribution strategy, each batch is filled out to a multiple of the
        replicas with copies of its first row that weigh nothing, so every replica gets as many
        rows (Keras averages the first batch's replica shares element-wise when it builds the
        model for fit and evaluate, and fails on a batch that does not divide evenly).
        shard: (first replica, replicas) of one worker of a multi-worker run (`distributed`): the
        stream holds only those replicas' shares of each batch, one element per replica, and
        reads only their rows; without it, whole batches (one machine's strategy splits them)."""
        epoch_numbers = itertools.count(first_epoch) if epochs is None else range(first_epoch, first_epoch + epochs)
        first, count = shard or (0, 1)  # (whole batches: one element each)

        def shares():
            for epoch in epoch_numbers:
                for b in self.batch_order(epoch)[skip if epoch == first_epoch else 0 :]:
                    rows = self.batches[b]
                    real = len(rows)
                    rows = np.concatenate([rows, np.repeat(rows[:1], -len(rows) % replicas)])
                    each = len(rows) // replicas if shard else len(rows)
                    for replica in range(first, first + count):
                        mine = rows[replica * each : (replica + 1) * each]
                        yield self._padded(0, rows, mine), self._padded(1, rows, mine, extra=1), min(max(real - replica * each, 0), each)

        batches = tf.data.Dataset.from_generator(shares, output_signature=(
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int64)))
        batches = batches.map(_to_model_inputs)
        if shard is None:
            # Under a one-machine strategy, the strategy splits each batch between its replicas.
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            batches = batches.with_options(options)
        if epochs is not None:  # a finite stream declares its length (validation needs no guessing)
            batches = batches.apply(tf.data.experimental.assert_cardinality((epochs * len(self) - skip) * count))
        return batches.prefetch(tf.data.AUTOTUNE)


def distributed(strategy, make):
    """make(shard) → dataset (`BatchPlan.dataset` with its other arguments fixed), as `fit` reads
    it: under a multi-worker strategy, each worker's own stream of its replicas' shares (so a
    worker reads only its rows of each batch), else the plain dataset."""
    if strategy is None or not is_multi_worker(strategy):
        return make(None)

    def per_worker(context: tf.distribute.InputContext):
        local = context.num_replicas_in_sync // context.num_input_pipelines
        return make((context.input_pipeline_id * local, local))

    return strategy.distribute_datasets_from_function(per_worker)
