"""Shared fixtures: an isolated environment, toy corpora made on the spot, and small models
trained once per session (seconds each) for the translator, chat and batch tests."""

from __future__ import annotations

import fcntl
import importlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import pytest

REAL_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "cmn-eng" / "cmn.txt"
needs_corpus = pytest.mark.skipif(
    not REAL_CORPUS.exists(), reason=f"real corpus not found at {REAL_CORPUS} (it lives in ../shared, never in the repo)"
)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """Runs, corpora caches, chat history and the translation memory go to temporary folders, never the user's."""
    root = tmp_path_factory.mktemp("env")
    saved = dict(os.environ)
    os.environ.update(
        SEQ2SEQ_CHECKPOINTS=str(root / "checkpoints"),
        SEQ2SEQ_CORPORA=str(root / "corpora"),
        SEQ2SEQ_HISTORY=str(root / "history"),
        SEQ2SEQ_MEMORY=str(root / "memory.sqlite"),  # (tests that correct translations pass a memory of their own)
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_STATE_HOME=str(root / "state"),
        # The tools' translations without XLA compilation (seconds per new shape): the same
        # outputs (test_dynamic_graphs_translate_exactly_as_the_xla_ones), and the tests that
        # are about the compiled graphs ask for "xla" by name.
        SEQ2SEQ_GRAPHS="dynamic",
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


def run_process(name: str, *args, input: str | bytes | None = None, env=None, timeout=300, cwd=None):
    """The console script `name` as a process of its own: for what only a process shows (the
    installed entry point, signals, a closed stdout, two tools racing, exiting with a thread alive)."""
    text = not isinstance(input, bytes)
    return subprocess.run(
        [script(name), *map(str, args)], input=input, capture_output=True, text=text,
        env={**os.environ, **(env or {})}, timeout=timeout, cwd=cwd,
    )


TOOLS = {  # (as pyproject.toml's [project.scripts] names them)
    "seq2seq-train": "repl.cli:train_main", "seq2seq-eval": "repl.scores:main", "seq2seq-chat": "repl.chat:main",
    "seq2seq-batch": "repl.batch:main", "seq2seq-serve": "repl.serve.command:main",
}


def run_script(name: str, *args, input: str | bytes | None = None, env=None, cwd=None):
    """The console script `name` run in this process, as a process would see it: its main(argv)
    with stdin, stdout and stderr of its own (bytes in, text or bytes out as subprocess.run gives
    them), the environment and working folder given, and its exit code. TensorFlow is imported
    once per test session instead of once per call (about 5 s each)."""
    module, function = TOOLS[name].split(":")
    main = getattr(importlib.import_module(module), function)
    data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    os.environ.update({k: str(v) for k, v in (env or {}).items()})
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        if cwd is not None:
            os.chdir(cwd)
        returncode = main(list(map(str, args)))
    except SystemExit as exit_:
        returncode = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # an unexpected error: a traceback and exit 1, as a process would end
        traceback.print_exc(file=stderr)
        returncode = 1
    finally:
        for stream in (stdout, stderr):
            stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for number, handler in saved_signals.items():
            signal.signal(number, handler)
    text = not isinstance(input, bytes)
    outputs = [stream.getvalue() for stream in (out, err)]
    if text:
        outputs = [b.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n") for b in outputs]
    return subprocess.CompletedProcess([name, *map(str, args)], returncode or 0, *outputs)


def reversal_lines(count: int, alphabet: str = "abcdef", lengths=(2, 5), seed: int = 0) -> list[str]:
    """Distinct `word<TAB>drow` lines: the toy task every quick test trains on."""
    rng = random.Random(seed)
    lines: set[str] = set()
    while len(lines) < count:
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(*lengths)))
        lines.add(f"{word}\t{word[::-1]}")
    return sorted(lines)


def suite_folder(tmp_path_factory) -> Path:
    """A folder all of this suite's workers share: the parent of a worker's base temporary
    folder under xdist (made for this run by the controller), the base folder itself without."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def made_once(tmp_path_factory, name: str):
    """`(path, missing)` for the suite-wide `name`, under a lock that the other workers wait on:
    the first worker to need it makes it (when `missing`), the others reuse what it made. A toy
    model is trained once per suite, whichever workers its tests land on."""
    root = suite_folder(tmp_path_factory) / "made-once"
    root.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # (released when the file closes)
        done = root / f"{name}.done"
        yield root / name, not done.exists()
        done.touch()


def written_once(tmp_path_factory, name: str, lines: list[str]) -> Path:
    with made_once(tmp_path_factory, name) as (path, missing):
        if missing:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def trained_once(tmp_path_factory, name: str, corpus: Path, **overrides):
    from engine.runs import RunFolder

    with made_once(tmp_path_factory, name) as (path, missing):
        if missing:
            shutil.rmtree(path, ignore_errors=True)  # (what a worker that failed half-way left)
            train_toy(path, corpus, **overrides)
    return RunFolder(path)


@pytest.fixture(scope="session")
def reversal_corpus(tmp_path_factory) -> Path:
    return written_once(tmp_path_factory, "reverse.txt", reversal_lines(3000))


def train_toy(path: Path, corpus: Path, **overrides):
    from engine.config import RunConfig
    from engine.runs import RunFolder
    from engine.training.train import train

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
    return trained_once(tmp_path_factory, "toy", reversal_corpus)


@pytest.fixture(scope="session")
def toy_attention_run(tmp_path_factory, reversal_corpus):
    """A GRU with a bidirectional encoder and Luong attention on the same task."""
    return trained_once(tmp_path_factory, "toy-attention", reversal_corpus,
        cell="gru", attention="luong", bidirectional=True,
    )


@pytest.fixture(scope="session")
def toy_aligned_run(tmp_path_factory, reversal_corpus):
    """The default preset's attention layout, small: bidirectional LSTM encoder, Luong attention
    with input feeding and scaled scores keyed by word windows, a decoder started from the
    encoder's states."""
    return trained_once(tmp_path_factory, "toy-aligned", reversal_corpus,
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
    corpus = written_once(tmp_path_factory, "words.txt", sorted(lines))
    return trained_once(tmp_path_factory, "toy-word", corpus, level="word", epochs=4)


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
    return written_once(tmp_path_factory, "toy-zh.txt", toy_chinese_lines())


@pytest.fixture(scope="session")
def toy_subword_run(tmp_path_factory, toy_chinese_corpus):
    """A subword model with the text pipeline (placeholders, sentences) in the default's layout,
    small: English words in (SentencePiece), Chinese characters out."""
    return trained_once(tmp_path_factory, "toy-subword", toy_chinese_corpus,
        level="subword", source_vocab_size=420, target_vocab_size=320, attention="luong", bidirectional=True,
        input_feeding=True, decoder_init="encoder", memory="keyed", embed_dim=32, epochs=14, valid_fraction=0.1,
        test_fraction=0.1, name_share=0.5,
    )


@pytest.fixture(scope="session")
def toy_subword_zh_en_run(tmp_path_factory, toy_chinese_corpus):
    """The toy Chinese corpus the other way round (Chinese in, English out), in the same layout:
    the second direction of the web page and the reverse model of back-translation."""
    return trained_once(tmp_path_factory, "toy-zh-en", toy_chinese_corpus, reverse=True,
        level="subword", source_vocab_size=320, target_vocab_size=420, attention="luong", bidirectional=True,
        input_feeding=True, decoder_init="encoder", memory="keyed", embed_dim=32, epochs=14, valid_fraction=0.1,
        test_fraction=0.1, name_share=0.5,
    )


# ----------------------------------------------------------------------------------------------
# The two tiers: `pytest -m "not slow"` runs in-process tests on stand-ins and small data (about
# a minute); everything that trains a model, starts the tools as processes or a browser is slow.

TRAINED_FIXTURES = {
    "toy_run", "toy_attention_run", "toy_aligned_run", "toy_word_run", "toy_subword_run", "toy_subword_zh_en_run", "checkpoints",
    "transformer_run",
}
LEARNING_TESTS = {  # (each trains or compiles a model for seconds)
    "test_every_variant_learns_a_fixed_batch", "test_learned_positions_build_and_decode",
    "test_a_run_trained_before_subwords_translates_exactly_as_before",
    "test_a_backup_puts_the_dropout_streams_back_so_resumed_steps_equal_uninterrupted_ones",
}
PROCESS_MODULES = {"test_train", "test_multiworker", "test_safety", "test_wheel", "test_batch", "test_chat", "test_hardening", "test_real_corpus"}


# In parallel (pytest-xdist, `--dist loadgroup`): the tests spread over the workers one by one,
# and a toy model is trained once per suite whichever worker needs it first (`trained_once`). A
# test that uses a module-scoped fixture of its own module (a server, a browser, a module's own
# models) runs on the worker that holds it: those tests are grouped by module, the module's other
# tests spread like the rest.


def uses_a_module_fixture(item) -> bool:
    module = item.module.__name__
    return any(
        definition.scope == "module" and definition.func.__module__ == module
        for definitions in item._fixtureinfo.name2fixturedefs.values() for definition in definitions
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks off the items
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if TRAINED_FIXTURES & set(item.fixturenames) or module in PROCESS_MODULES or item.originalname in LEARNING_TESTS:
            item.add_marker(pytest.mark.slow)
        if uses_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(module))
