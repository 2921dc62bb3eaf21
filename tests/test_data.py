"""Batches: every pair once per epoch, seeded order, exact skip on resume, sparse padded ids."""

import numpy as np

from engine.data.vocab import BOS, EOS
from engine.training.batches import BatchPlan


def plan(count=103, batch_size=10, seed=3):
    rng = np.random.default_rng(0)
    sources = [list(rng.integers(4, 20, rng.integers(1, 12))) for _ in range(count)]
    targets = [[BOS, *rng.integers(4, 20, rng.integers(1, 9)), EOS] for _ in range(count)]
    return BatchPlan(sources, targets, batch_size, seed), sources, targets


def epoch_batches(p, epoch, skip=0):
    return [tuple(t.numpy() for t in (x[0], x[1], y, w)) for x, y, w in p.dataset(epoch, skip, epochs=1)]


def test_each_pair_appears_once_per_epoch_in_batches_of_similar_length():
    p, sources, _ = plan()
    batches = epoch_batches(p, 0)
    assert len(batches) == len(p) == 11
    assert sum(b[0].shape[0] for b in batches) == 103
    seen = sorted(tuple(int(t) for t in row if t) for b in batches for row in b[0])
    assert seen == sorted(tuple(int(t) for t in s) for s in sources)
    for src, tgt_in, *_ in batches:  # length bucketing: batches of similar (longer-side) length
        lengths = np.maximum((src != 0).sum(1), (tgt_in != 0).sum(1) + 1)
        assert lengths.max() - lengths.min() <= 2


def test_order_is_seeded_per_epoch_and_skip_resumes_exactly():
    p, *_ = plan()
    first, again, second = epoch_batches(p, 0), epoch_batches(p, 0), epoch_batches(p, 1)
    signature = lambda batches: [b[0].tobytes() for b in batches]  # noqa: E731
    assert signature(first) == signature(again)
    assert signature(first) != signature(second)
    assert sorted(signature(first)) == sorted(signature(second))  # same batches, another order
    resumed = epoch_batches(p, 1, skip=4)
    assert len(resumed) == len(second) - 4
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2]) for a, b in zip(resumed, second[4:]))


def test_the_endless_stream_runs_epoch_after_epoch():
    p, *_ = plan()
    stream = iter(p.dataset(first_epoch=2, skip=3))
    taken = [next(stream)[0][0].numpy().tobytes() for _ in range(len(p) - 3 + 2 * len(p))]
    expected = [b[0].tobytes() for e, k in ((2, 3), (3, 0), (4, 0)) for b in epoch_batches(p, e, k)]
    assert taken == expected


def test_teacher_forcing_shift_and_sparse_targets():
    p, *_ = plan()
    for src, tgt_in, tgt_out, weight in epoch_batches(p, 0):
        assert src.dtype == np.int32 and tgt_out.dtype == np.int32 and tgt_out.ndim == 2  # no one-hot
        assert (tgt_in[:, 0] == BOS).all()
        assert np.array_equal(tgt_in[:, 1:] * (tgt_out[:, :-1] != 0), tgt_out[:, :-1])
        assert np.array_equal(weight, (tgt_out != 0).astype(np.float32))
        assert ((tgt_out == EOS).sum(1) == 1).all()


def test_batches_fill_out_to_the_replicas_with_rows_that_weigh_nothing():
    p, *_ = plan()  # 103 pairs in batches of 10: the last batch has 3 rows
    plain = epoch_batches(p, 0)
    filled = [tuple(t.numpy() for t in (x[0], x[1], y, w)) for x, y, w in p.dataset(0, epochs=1, replicas=4)]
    assert [b[0].shape[0] for b in filled] == [-(-b[0].shape[0] // 4) * 4 for b in plain]
    for (src, _, _, weight), (src_f, _, _, weight_f) in zip(plain, filled):
        n = src.shape[0]
        assert np.array_equal(src_f[:n], src) and np.array_equal(weight_f[:n], weight)
        assert (weight_f[n:] == 0).all() and (src_f[n:] == src[0]).all()


def test_encoded_splits_are_kept_whole_on_disk_and_read_back_memory_mapped(tmp_path):
    import pytest

    from engine.data.encoded import EncodedDataError, load_encoded, save_encoded

    p, sources, targets = plan()
    assert load_encoded(tmp_path) is None  # a run from before data/ prepares as it did
    save_encoded(tmp_path, {"train": p.encoded, "valid": None})
    kept = load_encoded(tmp_path)
    assert kept["valid"] is None and [path.name for path in tmp_path.iterdir()] == ["data"]
    again = BatchPlan(*kept["train"], 10, 3)
    assert [b.tolist() for b in again.batches] == [b.tolist() for b in p.batches]
    assert all(np.array_equal(a, b) for a, b in zip(epoch_batches(again, 1)[0], epoch_batches(p, 1)[0]))
    lengths = tmp_path / "data" / "train-target-lengths.npy"
    lengths.write_bytes(lengths.read_bytes()[:-16])  # a truncated file
    with pytest.raises(EncodedDataError, match="train-target"):
        load_encoded(tmp_path)


def test_each_worker_reads_only_its_replicas_shares_and_together_they_make_the_batch():
    """A multi-worker run (engine/training/batches.py `distributed`): worker w of 2, one replica
    each, streams its half of every batch filled out to the 2 replicas, at the whole batch's
    width; the halves side by side are exactly the batch one machine would split."""
    p = BatchPlan(*plan()[1:], 10, 3, pad_to=8)
    whole = [tuple(t.numpy() for t in (x[0], x[1], y, w)) for x, y, w in p.dataset(0, epochs=1, replicas=2)]
    halves = [[tuple(t.numpy() for t in (x[0], x[1], y, w)) for x, y, w in p.dataset(0, epochs=1, replicas=2, shard=(w, 1))]
              for w in (0, 1)]
    assert len(halves[0]) == len(halves[1]) == len(whole) == len(p)
    for batch, first, second in zip(whole, *halves):
        for part in range(4):
            assert np.array_equal(np.concatenate([first[part], second[part]]), batch[part])
    # two replicas on one worker: two elements per batch, in replica order
    both = [x[0].numpy() for x, _, _ in p.dataset(0, epochs=1, replicas=2, shard=(0, 2))]
    assert len(both) == 2 * len(p) and all(np.array_equal(np.concatenate(both[2 * i : 2 * i + 2]), b[0]) for i, b in enumerate(whole))
