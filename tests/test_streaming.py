"""Preparation that streams (issue: millions of pairs): pairs on disk (PairSpool), corpora read as
streams and deduplicated by hashes, the encoded split written a chunk at a time, a pool that reads
a bounded number of chunks ahead, and held-out splits capped for a large corpus. Each is checked
against the plain in-memory rule it replaces."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from engine.config import RunConfig
from engine.data import parallel
from engine.data.corpus import first_occurrences, load_split, split_bucket
from engine.data.encoded import EncodedWriter, load_encoded, save_encoded
from engine.data.files import Pair
from engine.data.formats import PairStream
from engine.data.prepare import prepare_data
from engine.data.spool import scratch_folder, temporary_spool
from engine.training.batches import Encoded


def anki(path, pairs):
    path.write_text("".join(f"{s}\t{t}\tCC-BY\n" for s, t in pairs), encoding="utf-8")
    return path


def test_a_spool_gives_back_every_pair_in_order_and_any_one_pair(tmp_path):
    rng = random.Random(0)
    pairs = [Pair(f"tab\there {i} \n new line é 😀", "目标" * rng.randint(0, 3) + f"{i}。") for i in range(23_456)]
    spool = temporary_spool(tmp_path, pairs)
    assert len(spool) == len(pairs) and list(spool) == pairs
    assert [len(chunk) for chunk in spool.chunks(10_000)] == [10_000, 10_000, 3_456]
    for index in (0, 1, 9_999, 10_000, 23_455, -1, rng.randrange(23_456)):
        assert spool[index] == pairs[index]
    assert spool[5:12] == pairs[5:12] and spool[:3] == pairs[:3] and spool[23_450:99_999] == pairs[23_450:]
    with pytest.raises(IndexError):
        spool[23_456]
    folder = spool.folder
    assert folder.parent == tmp_path and folder.is_dir()
    spool.close()
    assert not folder.exists()  # (its files go with it)


def test_hashes_drop_exact_duplicates_and_keep_the_first_of_each_in_order():
    rng = np.random.default_rng(1)
    values = rng.integers(-5, 5, 1_000)
    keep = first_occurrences(values.astype(np.int64))
    expected = list(dict.fromkeys(values.tolist()))
    assert values[keep].tolist() == expected
    assert keep.sum() == 10 and first_occurrences(np.zeros(0, np.int64)).tolist() == []


def in_memory_split(config, first, second):
    """The rule of load_split as plain lists (what it did before it streamed)."""
    first = list(dict.fromkeys(Pair(*p) for p in first))[: config.max_pairs]
    train, valid, test = [], [], []
    for pair in first:
        bucket = split_bucket(pair.source, config.seed)
        (test if bucket < config.test_fraction else valid if bucket < config.test_fraction + config.valid_fraction else train).append(pair)
    key = lambda text: "".join(c for c in text.casefold() if c.isalnum())  # noqa: E731
    held = {key(t) for p in valid + test for t in (p.source, p.target)}
    seen = set(first)
    more = [p for p in list(dict.fromkeys(Pair(*p) for p in second))[: config.max_pairs] if p not in seen and key(p.source) not in held and key(p.target) not in held]
    extra = [p for p in more if split_bucket(p.source, config.seed + 1) < config.extra_valid_fraction]
    second_keys = {key(t) for p in extra for t in (p.source, p.target)}
    train += [p for p in more if p not in extra]
    return [p for p in train if key(p.source) not in second_keys and key(p.target) not in second_keys], valid, test, extra


def test_the_streamed_split_is_the_in_memory_rule_pair_for_pair(tmp_path):
    rng = random.Random(2)
    first = [(f"Sentence {rng.randrange(900)}.", f"句子{rng.randrange(50)}。") for _ in range(3_000)]  # (many duplicates)
    second = [(f"other {rng.randrange(2_000)}.", f"别的{rng.randrange(40)}。") for _ in range(2_500)] + first[:300]
    second += [(first[i][0].upper(), "另一个说法。") for i in range(0, 600, 7)] + [(f"Other {i}.", "别的。") for i in range(50)]
    config = RunConfig(corpus=str(anki(tmp_path / "a.txt", first)), extra_corpora=[str(anki(tmp_path / "b.txt", second))],
                       extra_valid_fraction=0.1)
    split, facts = load_split(config, scratch=tmp_path)
    train, valid, test, extra = in_memory_split(config, first, second)
    assert (list(split.train), split.valid, split.test, split.valid_extra) == (train, valid, test, extra)
    assert len(train) > 1_000 and valid and test and extra and facts["valid_extra_overlap_dropped"] > 0
    assert facts["duplicates_dropped"] == len(first) - len(set(first))
    config.max_pairs = 500
    split, _ = load_split(config, scratch=tmp_path)
    assert (list(split.train), split.valid, split.test, split.valid_extra) == in_memory_split(config, first, second)


def test_a_large_corpus_holds_out_about_held_out_max_pairs_and_a_small_one_its_fractions(tmp_path):
    pairs = [(f"sentence {i}.", f"句子{i}。") for i in range(4_000)]
    config = RunConfig(corpus=str(anki(tmp_path / "a.txt", pairs)), held_out_max=60)
    split, facts = load_split(config, scratch=tmp_path)
    assert 30 < len(split.valid) < 90 and 30 < len(split.test) < 90  # (5% would be 200)
    assert facts["held_out_shares"] == {"valid": 0.015, "test": 0.015}
    assert len(split.train) + len(split.valid) + len(split.test) == 4_000
    config.held_out_max = 1_000
    split, facts = load_split(config, scratch=tmp_path)
    assert 150 < len(split.valid) < 250 and "held_out_shares" not in facts


def test_a_corpus_is_read_as_it_is_iterated_and_errors_name_the_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a.\t甲。\nb.\t乙。\nno tab here\n", encoding="utf-8")
    stream = iter(PairStream(path))
    assert next(stream) == Pair("a.", "甲。") and next(stream) == Pair("b.", "乙。")  # (read before the bad line)
    with pytest.raises(ValueError, match=r"c\.txt:3: expected"):
        next(stream)
    skipping = PairStream(path, skip_bad_lines=True)
    assert len(list(skipping)) == 2 and skipping.skipped == 1


def test_the_encoded_split_written_in_chunks_is_what_save_encoded_writes_and_moves_into_data(tmp_path):
    rng = np.random.default_rng(3)
    chunks = [(Encoded.of([list(rng.integers(4, 50, rng.integers(1, 9))) for _ in range(n)]),
               Encoded.of([list(rng.integers(4, 50, rng.integers(3, 9))) for _ in range(n)])) for n in (7, 0, 12)]
    folder = tmp_path / ".prepared-x"
    folder.mkdir()
    writer = EncodedWriter(folder, "train")
    for source, target in chunks:
        writer.write(source, target)
    written = writer.close()
    whole = tuple(Encoded(np.concatenate([c[side].flat for c in chunks]), np.concatenate([c[side].lengths for c in chunks])) for side in (0, 1))
    for got, expected in zip(written, whole):
        assert got.flat.dtype == np.int32 and got.flat.tolist() == expected.flat.tolist() and got.lengths.tolist() == expected.lengths.tolist()
    run = tmp_path / "run"
    run.mkdir()
    save_encoded(run, {"train": written, "valid": None})
    assert not folder.exists()  # (moved, not copied; the folder goes with its last file)
    kept = load_encoded(run)["train"]
    assert [side.flat.tolist() for side in kept] == [side.flat.tolist() for side in whole]


def numbered(chunk):
    return [n * 2 for n in chunk]


@pytest.mark.skipif(parallel.available_cores() < 2 or not sys.platform.startswith("linux"), reason="one core, or no fork: no pool")
def test_the_pool_over_a_stream_keeps_order_and_reads_only_a_few_chunks_ahead():
    read = []

    def chunks():
        for start in range(0, 400, 10):
            read.append(start)
            yield list(range(start, start + 10))

    results = parallel.streamed(numbered, chunks(), size=parallel.POOL_FROM)
    first = next(results)
    assert first == [n * 2 for n in range(10)]
    assert len(read) <= 2 * parallel.available_cores() + 2  # (Pool.imap would have read all 40)
    assert [n for part in [first, *results] for n in part] == [n * 2 for n in range(400)]


def test_a_run_from_before_the_cap_keeps_its_whole_held_out_fractions():
    old = json.loads(RunConfig().to_json())
    del old["held_out_max"]
    assert RunConfig.from_dict(old).held_out_max is None and RunConfig().held_out_max == 5000


def test_a_preparation_removes_the_scratch_folders_of_one_that_was_killed_and_no_others(tmp_path, toy_chinese_corpus):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead, alive = int(finished.stdout), os.getppid()  # (a process that has exited; this one's parent, running)
    host = scratch_folder(".pairs-", tmp_path)
    host.rmdir()
    here = host.name.split("@")[1].split("-")[0]  # (this machine's name as the folders carry it)
    stale = [tmp_path / f".pairs-{dead}@{here}-abc", tmp_path / f".prepared-{dead}@{here}-def"]
    kept = [tmp_path / f".pairs-{alive}@{here}-ghi", tmp_path / ".pairs-old", tmp_path / f"pairs-{dead}@{here}-mine",
            tmp_path / f".pairs-{dead}@another_machine-jkl"]  # (a shared disk: not this machine's to judge)
    for folder in stale + kept:
        folder.mkdir()
        (folder / "texts.bin").write_bytes(b"x" * 100)
    warned = []
    config = RunConfig(corpus=str(toy_chinese_corpus), valid_fraction=0.1, test_fraction=0.1, source_vocab_size=80, target_vocab_size=80)
    prepare_data(config, scratch=tmp_path, warn=warned.append)
    assert not any(folder.exists() for folder in stale) and all(folder.exists() for folder in kept)
    assert sorted(warned) == [f"removed {folder.name}, left behind by a preparation that was killed" for folder in stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(folder.name for folder in kept)  # (its own are gone too)
    assert host.name.startswith(f".pairs-{os.getpid()}@{here}-")
    run = tmp_path / "run"  # (a save of data/ killed outright leaves .data- inside the run: the next save removes it)
    (run / f".data-{dead}@{here}-xyz").mkdir(parents=True)
    save_encoded(run, {"train": (Encoded.of([[5, 6]]), Encoded.of([[7, 8, 9]])), "valid": None})
    assert sorted(p.name for p in run.iterdir()) == ["data"]
