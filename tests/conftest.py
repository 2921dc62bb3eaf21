"""Shared fixtures: an isolated environment, toy corpora made on the spot, and small models
trained once per session (seconds each) for the translator, chat and batch tests."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

REAL_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "cmn-eng" / "cmn.txt"
needs_corpus = pytest.mark.skipif(
    not REAL_CORPUS.exists(), reason=f"real corpus not found at {REAL_CORPUS} (it lives in ../shared, never in the repo)"
)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """Runs, corpora caches and chat history go to temporary folders, never the user's."""
    root = tmp_path_factory.mktemp("env")
    saved = dict(os.environ)
    os.environ.update(
        SEQ2SEQ_CHECKPOINTS=str(root / "checkpoints"),
        SEQ2SEQ_CORPORA=str(root / "corpora"),
        SEQ2SEQ_HISTORY=str(root / "history"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_STATE_HOME=str(root / "state"),
    )
    os.environ.pop("SEQ2SEQ_MODEL", None)
    import engine  # noqa: F401  (quiet TensorFlow defaults before anything imports it)

    yield root
    os.environ.clear()
    os.environ.update(saved)


def script(name: str) -> str:
    """The installed console script beside this interpreter."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed (pip install -e .)"
    return str(path)


def run_script(name: str, *args, input: str | bytes | None = None, env=None, timeout=300, cwd=None):
    text = not isinstance(input, bytes)
    return subprocess.run(
        [script(name), *map(str, args)], input=input, capture_output=True, text=text,
        env={**os.environ, **(env or {})}, timeout=timeout, cwd=cwd,
    )


def reversal_lines(count: int, alphabet: str = "abcdef", lengths=(2, 5), seed: int = 0) -> list[str]:
    """Distinct `word<TAB>drow` lines: the toy task every quick test trains on."""
    rng = random.Random(seed)
    lines: set[str] = set()
    while len(lines) < count:
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(*lengths)))
        lines.add(f"{word}\t{word[::-1]}")
    return sorted(lines)


@pytest.fixture(scope="session")
def reversal_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "reverse.txt"
    path.write_text("\n".join(reversal_lines(3000)) + "\n", encoding="utf-8")
    return path


def train_toy(path: Path, corpus: Path, **overrides):
    from engine.config import RunConfig
    from engine.runs import RunFolder
    from engine.train import train

    settings = dict(
        corpus=str(corpus), units=64, embed_dim=16, optimizer="adam", learning_rate=1e-2,
        epochs=6, patience=0, batch_size=32,
    )
    config = RunConfig(**{**settings, **overrides})
    run = RunFolder(path)
    train(config, run)
    return run


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory, reversal_corpus):
    """A plain LSTM (the tutorial's architecture, small) that reverses short strings."""
    return train_toy(tmp_path_factory.mktemp("runs") / "toy", reversal_corpus)


@pytest.fixture(scope="session")
def toy_attention_run(tmp_path_factory, reversal_corpus):
    """A GRU with a bidirectional encoder and Luong attention on the same task."""
    return train_toy(
        tmp_path_factory.mktemp("runs") / "toy-attention", reversal_corpus,
        cell="gru", attention="luong", bidirectional=True,
    )


@pytest.fixture(scope="session")
def toy_aligned_run(tmp_path_factory, reversal_corpus):
    """The default preset's attention layout, small: bidirectional LSTM encoder, Luong attention
    with input feeding and scaled scores keyed by word windows, a decoder started from the
    encoder's states."""
    return train_toy(
        tmp_path_factory.mktemp("runs") / "toy-aligned", reversal_corpus,
        attention="luong", bidirectional=True, input_feeding=True, decoder_init="encoder", memory="keyed",
    )


@pytest.fixture(scope="session")
def toy_word_run(tmp_path_factory):
    """A word-level model: English-like words in, the same words reversed in order out."""
    rng = random.Random(1)
    words = ["red", "blue", "cat", "dog", "runs", "sees", "a", "the", "big", "small"]
    lines = set()
    while len(lines) < 1500:
        sentence = [rng.choice(words) for _ in range(rng.randint(1, 4))]
        lines.add(" ".join(sentence) + ".\t" + " ".join(reversed(sentence)) + ".")
    corpus = tmp_path_factory.mktemp("corpus") / "words.txt"
    corpus.write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
    return train_toy(tmp_path_factory.mktemp("runs") / "toy-word", corpus, level="word", epochs=4)


SUBJECTS = {"Tom": "汤姆", "Mary": "玛丽", "I": "我", "You": "你", "We": "我们", "Anna": "Anna", "Ben": "Ben", "Carl": "Carl"}
VERBS = {"like": "喜欢", "see": "看见", "have": "有", "want": "想要"}
OBJECTS = {"apples": "苹果", "cats": "猫", "books": "书", "dogs": "狗", "cars": "车", "tea": "茶"}


def toy_chinese_lines(seed: int = 0) -> list[str]:
    """`English<TAB>Chinese` toy sentences: names (some kept in Latin letters on the Chinese side,
    as Tatoeba does), verbs, objects, and numbers written as digits on both sides."""
    rng = random.Random(seed)
    lines = set()
    for subject, zh_subject in SUBJECTS.items():
        for verb, zh_verb in VERBS.items():
            for thing, zh_thing in OBJECTS.items():
                third_person = subject in ("Tom", "Mary", "Anna", "Ben", "Carl")
                english_verb = ("has" if verb == "have" else verb + "s") if third_person else verb
                lines.add(f"{subject} {english_verb} {thing}.\t{zh_subject}{zh_verb}{zh_thing}。")
                for count in rng.sample(range(2, 1000), 6):
                    lines.add(f"{subject} {english_verb} {count} {thing}.\t{zh_subject}{zh_verb}{count}个{zh_thing}。")
    return sorted(lines)


@pytest.fixture(scope="session")
def toy_chinese_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "toy-zh.txt"
    path.write_text("\n".join(toy_chinese_lines()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toy_subword_run(tmp_path_factory, toy_chinese_corpus):
    """A subword model with the text pipeline (placeholders, sentences) in the default's layout,
    small: English words in (SentencePiece), Chinese characters out."""
    return train_toy(
        tmp_path_factory.mktemp("runs") / "toy-subword", toy_chinese_corpus,
        level="subword", source_vocab_size=420, target_vocab_size=320, attention="luong", bidirectional=True,
        input_feeding=True, decoder_init="encoder", memory="keyed", embed_dim=32, epochs=14, valid_fraction=0.1,
        test_fraction=0.1, name_share=0.5,
    )


# ----------------------------------------------------------------------------------------------
# The two tiers: `pytest -m "not slow"` runs in-process tests on stand-ins and small data (about
# a minute); everything that trains a model, starts the tools as processes or a browser is slow.

TRAINED_FIXTURES = {"toy_run", "toy_attention_run", "toy_aligned_run", "toy_word_run", "toy_subword_run", "checkpoints", "transformer_run"}
LEARNING_TESTS = {"test_every_variant_learns_a_fixed_batch"}  # (each trains a model for seconds)
PROCESS_MODULES = {"test_train", "test_multiworker", "test_safety", "test_wheel", "test_batch", "test_chat", "test_hardening", "test_real_corpus"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if TRAINED_FIXTURES & set(item.fixturenames) or module in PROCESS_MODULES or item.originalname in LEARNING_TESTS:
            item.add_marker(pytest.mark.slow)
