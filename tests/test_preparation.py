"""Preparation at scale on tiny data: the work spread over processes gives what one process
gives, in the same order; the placeholders' draws are the generator's own; the stages count."""

import os
import random
import re
import signal
import sys
import threading
from collections import Counter

import pytest

from engine.config import RunConfig
from engine.data import parallel
from engine.data.files import Pair
from engine.data.prepare import build_vocabs
from engine.data.vocab import SubwordVocab, TextColumn, _count_words, word_counts
from engine.text.normalise import normalise
from engine.text.pipeline import normalised_pairs, training_pairs
from engine.text.protect import protect
from engine.text.shared_spans import random_draws


def some_pairs(count: int) -> list[Pair]:
    rng = random.Random(0)
    words = ["Tom", "likes", "ＡＢＣ", "don’t", "3,000", "“tea”", "Mary", "in", "Boston"]
    zh = ["汤姆", "喜欢", "茶", ",", "!", "玛丽", "在", "波士顿", "３０"]
    return [Pair(" ".join(rng.choices(words, k=rng.randint(1, 6))) + ".", "".join(rng.choices(zh, k=rng.randint(1, 6))) + "。")
            for _ in range(count)]


def worker_pid(_item) -> int:
    return os.getpid()


def ignores_ctrl_c(_item) -> bool:
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def dies_on_sigterm(_item) -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def fails(item) -> int:
    return 1 // 0


@pytest.mark.skipif(parallel.available_cores() < 2 or not sys.platform.startswith("linux"), reason="one core, or no fork: no pool")
def test_long_lists_go_to_other_processes_and_short_ones_stay(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 5)
    assert os.getpid() not in set(parallel.mapped(worker_pid, list(range(30)), pool_from=10))
    assert set(parallel.mapped(worker_pid, list(range(9)), pool_from=10)) == {os.getpid()}
    # Ctrl-C is this process's to handle (it ends the pool): no worker prints a traceback of its own
    assert all(parallel.mapped(ignores_ctrl_c, list(range(30)), pool_from=10))
    # Pool.terminate ends the workers with SIGTERM: a handler this process has (a tool's own, which
    # a forked worker inherits) must not keep one alive (the pool would wait for it for ever)
    saved = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        assert all(parallel.mapped(dies_on_sigterm, list(range(30)), pool_from=10))
        with pytest.raises(ZeroDivisionError):  # an error ends the pool with it
            parallel.mapped(fails, list(range(30)), pool_from=10)
        # … even a worker that gets SIGTERM before it has reset the handler it inherited: under
        # load, 3 of these in a row hung before workers were forked with SIGTERM blocked
        for _ in range(20):
            ended = threading.Thread(target=lambda: parallel._forked_pool(2).terminate(), daemon=True)
            ended.start()
            ended.join(30)
            assert not ended.is_alive(), "Pool.terminate waits for a worker that outlived its SIGTERM"
    finally:
        signal.signal(signal.SIGTERM, saved)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()  # (this process's mask is as it was)


def test_the_pool_gives_what_one_process_gives_in_order(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 7)  # (many chunks, so that order is tested)
    texts = [text for p in some_pairs(50) for text in (p.source, p.target)]
    counts = []
    pooled = parallel.mapped(normalise, texts, pool_from=1, done=counts.append)
    assert pooled == [normalise(t) for t in texts] and pooled != texts
    assert counts == list(range(7, 100, 7)) + [100]
    assert parallel.mapped(normalise, texts[:5], pool_from=1) == [normalise(t) for t in texts[:5]]
    assert parallel.mapped(normalise, [], pool_from=1) == []


def test_normalised_pairs_on_the_pool_are_the_pairs_normalised(monkeypatch):
    monkeypatch.setattr(parallel, "POOL_FROM", 1)
    monkeypatch.setattr(parallel, "CHUNK", 9)
    pairs, counts = some_pairs(40), []
    assert normalised_pairs(pairs, done=counts.append) == [Pair(normalise(p.source), normalise(p.target)) for p in pairs]
    assert counts[-1] == 40


def test_word_counts_merge_to_the_counts_of_one_pass_in_first_seen_order(monkeypatch):
    texts = [p.source for p in some_pairs(300)]
    one_pass = dict(_count_words(texts))
    monkeypatch.setattr(parallel, "POOL_FROM", 1)
    monkeypatch.setattr(parallel, "CHUNK", 11)
    merged = word_counts(texts)
    assert merged == one_pass and list(merged) == list(one_pass)
    assert merged["tom"] == Counter(w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t))["tom"] > 0


def test_a_word_the_targets_keep_as_it_is_is_not_known_and_is_carried(monkeypatch):
    # Training reads "Linux" in 我用Linux。 as a placeholder, so the model never learns the word:
    # it must not count as known, or the translator hands it to the model (我用林。) instead of carrying it.
    pairs = [Pair("I use Linux.", "我用Linux。"), Pair("Linux is free.", "Linux是免费的。"), Pair("I like apples.", "我喜欢苹果。")] * 5
    pairs.append(Pair("Linux runs here.", "这里运行林纳斯。"))  # (one pair that translated it: counted)
    monkeypatch.setattr(parallel, "POOL_FROM", 1)
    monkeypatch.setattr(parallel, "CHUNK", 5)
    read = word_counts(TextColumn(pairs), kept_out=True)
    assert read.get("linux") == 1 and read["apples"] == 5 and read["use"] == 5
    assert word_counts([p.source for p in pairs])["linux"] == 11  # (all of them, where no span is a placeholder)
    config = RunConfig(level="subword", source_vocab_size=60, target_vocab_size=60)
    source, _ = build_vocabs(config, pairs, pairs, (False, True))
    assert source.words == read and not source.knows("Linux") and source.knows("apples")
    assert protect("Linux is fast.", known=source.knows).text == "⟦W1⟧ is fast."


def test_draws_are_the_values_and_state_of_calls_to_random():
    for seed in range(50):
        for count in (0, 1, 2, 23, 64):
            calls, drawn = random.Random(seed), random.Random(seed)
            values = [calls.random() for _ in range(count)]
            draw = random_draws(drawn, count)
            assert [draw(i) for i in range(count)] == values
            assert calls.getstate() == drawn.getstate()  # (the placeholders' numbers are drawn next)


def test_training_pairs_count_their_progress_by_chunks(monkeypatch):
    from engine.text import pipeline

    monkeypatch.setattr(pipeline, "CHUNK", 4)
    pairs = [Pair(normalise(p.source), normalise(p.target)) for p in some_pairs(10)]
    counts = []
    out = training_pairs(pairs, False, {"Tom": "汤姆"}, 0, 0.5, done=counts.append)
    assert counts == [4, 8, 10] and out == training_pairs(pairs, False, {"Tom": "汤姆"}, 0, 0.5)


def test_a_batch_of_texts_encodes_as_each_text_alone():
    texts = [normalise(p.source) for p in some_pairs(200)]
    vocab = SubwordVocab.train(texts, 120, chinese=False, lowercase=True)
    assert vocab.encode_all(texts) == [vocab.encode(t) for t in texts]
