"""Training: a toy task is learned, a SIGKILLed run resumes exactly, mirrored training runs,
and the command line reports bad input in one line with the right exit code."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import pytest

import engine.models.recurrent  # noqa: F401 (registers Seq2Seq and, below, SequenceLoss:
import engine.training.train  # noqa: F401  the tests load last.keras with its optimizer and loss)
from engine.config import RunConfig
from engine.data.corpus import split_pairs
from engine.data.files import read_anki
from engine.data.prepare import prepare_data
from engine.decoding.translate import Translator
from engine.runs import RunFolder
from tests.conftest import reversal_lines, run_script, script


def exact_match(run, corpus):
    config = run.config()
    pairs, _ = read_anki(corpus)
    test = split_pairs(pairs, config.valid_fraction, config.test_fraction, config.seed).test
    out = Translator(run).translate([p.source for p in test])
    return sum(o.text == p.target for o, p in zip(out, test)) / len(test)


def test_tutorial_style_model_learns_string_reversal(toy_run, reversal_corpus):
    assert exact_match(toy_run, reversal_corpus) >= 0.95
    facts = toy_run.facts()
    assert facts["epochs_done"] == 6 and facts["params"] > 0
    for name in ("config.json", "vocab-source.json", "vocab-target.json", "best.keras", "last.keras", "metrics.csv", "data/index.json"):
        assert (toy_run.path / name).exists(), name
    assert not toy_run.backup_dir.exists()  # removed when training completes


def metrics(run):
    with open(run.metrics_path, newline="") as handle:
        return list(csv.DictReader(handle))


RESUME_ARGS = [
    "--preset", "tiny", "--units", "32", "--embed-dim", "16", "--learning-rate", "0.005",
    "--batch-size", "16", "--epochs", "3", "--backup-every", "20", "--patience", "0", "--max-pairs", "2500",
    "--decay", "budget",  # the learning rate changes every step: a resume must pick up the same rates
]


@pytest.fixture(scope="module")
def resume_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "reverse.txt"
    path.write_text("\n".join(reversal_lines(2500, lengths=(3, 8), seed=5)) + "\n", encoding="utf-8")
    return path


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, resume_corpus):
    # the uninterrupted run trains meanwhile, on the other core
    reference_log = open(tmp_path / "reference.log", "w+")
    reference_process = subprocess.Popen(
        [script("seq2seq-train"), "--corpus", resume_corpus, "--run", tmp_path / "reference", *RESUME_ARGS],
        stdout=subprocess.DEVNULL, stderr=reference_log,
    )
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [script("seq2seq-train"), "--corpus", resume_corpus, "--run", killed, *RESUME_ARGS],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    pointer = killed / "backup" / "latest.json"
    deadline = time.time() + 240
    state = None
    while time.time() < deadline and process.poll() is None:
        if pointer.exists():
            state = json.loads(pointer.read_text())
            if state["epoch"] == 1 and state["step"] >= 40:
                break
        time.sleep(0.05)
    assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(metrics(RunFolder(killed))) == 1  # one epoch finished before the kill

    resumed = run_script("seq2seq-train", "--resume", killed)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "backup" in resumed.stderr

    with reference_log:
        assert reference_process.wait(timeout=300) == 0, (tmp_path / "reference.log").read_text()[-3000:]

    run, ref = RunFolder(killed), RunFolder(tmp_path / "reference")
    rows, ref_rows = metrics(run), metrics(ref)
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    # Same optimizer state and data order: the step count is exact and the losses match the
    # uninterrupted run (no jump, no replayed or skipped batches).
    _, _, plan, _, _ = prepare_data(run.config(), run.vocabs())
    model = keras.saving.load_model(run.last_path, safe_mode=True)
    assert int(model.optimizer.iterations.numpy()) == 3 * len(plan)
    reference_model = keras.saving.load_model(ref.last_path, safe_mode=True)
    assert run.facts()["decay_steps"] == ref.facts()["decay_steps"] == 3 * len(plan)
    assert float(model.optimizer.learning_rate.numpy()) == float(reference_model.optimizer.learning_rate.numpy())
    for mine, theirs in zip(rows, ref_rows):
        assert float(mine["val_loss"]) == pytest.approx(float(theirs["val_loss"]), rel=0.05)
    assert run.facts()["epochs_done"] == 3 and not run.backup_dir.exists()


def test_resume_extends_a_finished_run_with_more_epochs(tmp_path, reversal_corpus):
    args = ["--preset", "tiny", "--corpus", reversal_corpus, "--units", "16", "--epochs", "1"]
    assert run_script("seq2seq-train", *args, "--run", tmp_path / "r").returncode == 0
    again = run_script("seq2seq-train", "--resume", tmp_path / "r")
    assert again.returncode == 1 and "--epochs" in again.stderr
    more = run_script("seq2seq-train", "--resume", tmp_path / "r", "--epochs", "2")
    assert more.returncode == 0, more.stderr
    assert [r["epoch"] for r in metrics(RunFolder(tmp_path / "r"))] == ["0", "1"]
    assert RunConfig.load(tmp_path / "r" / "config.json").epochs == 2


def test_mirrored_training_on_two_logical_cpus(tmp_path, reversal_corpus):
    code = textwrap.dedent(
        f"""
        import engine, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from engine.config import preset
        from engine.runs import RunFolder
        from engine.training.train import make_strategy, train
        assert make_strategy("mirrored").num_replicas_in_sync == 2
        config = preset("tiny", corpus={str(reversal_corpus)!r}, distribute="mirrored", epochs=2, units=32, max_pairs=800)
        train(config, RunFolder({str(tmp_path / "m")!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = metrics(RunFolder(tmp_path / "m"))
    assert len(rows) == 2 and float(rows[-1]["loss"]) < float(rows[0]["loss"])


def test_bad_corpus_line_is_one_line_error_with_exit_1(tmp_path):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"a\tb\nc\td\nno tab\n")
    result = run_script("seq2seq-train", "--corpus", corpus, "--run", tmp_path / "r")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {corpus}:3: expected 'source<TAB>target[<TAB>attribution]', found no tab (use --skip-bad-lines to skip such lines)"]
    assert result.stdout == ""
    assert not (tmp_path / "r" / "best.keras").exists()


@pytest.mark.parametrize(
    "args, message",
    [(["--cell", "rnn"], "argument --cell: invalid choice: 'rnn'"), (["--resume", "/nonexistent/run"], "not a run folder")],
)
def test_usage_errors_exit_2(args, message):
    result = run_script("seq2seq-train", *args)
    assert result.returncode == 2 and message in result.stderr


def test_help_explains_options_and_defaults():
    result = run_script("seq2seq-train", "--help")
    assert result.returncode == 0
    for option in ("--corpus", "--resume", "--no-teacher-forcing", "--distribute", "--reverse", "--max-len"):
        assert option in result.stdout
    assert "(default: lstm)" in result.stdout


def test_free_running_training_mode_trains(tmp_path, reversal_corpus):
    from engine.config import preset
    from engine.training.train import train

    config = preset("tiny", corpus=str(reversal_corpus), teacher_forcing=False, epochs=3, units=32)
    train(config, RunFolder(tmp_path / "free"))
    rows = metrics(RunFolder(tmp_path / "free"))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert os.path.exists(tmp_path / "free" / "best.keras")


def test_joined_pairs_are_two_training_pairs_end_to_end(tmp_path):
    from engine.data.files import Pair
    from engine.data.prepare import joined_pairs
    from engine.data.spool import temporary_spool

    def joins(pairs, fraction, seed, chinese_target=False):  # (they come a chunk at a time)
        return [pair for chunk in joined_pairs(pairs, fraction, seed=seed, chinese_target=chinese_target) for pair in chunk]

    english = [Pair(f"Sentence {i}.", f"le {i}") for i in range(40)]
    joined = joins(english, 0.5, seed=3)
    assert len(joined) == 20 and joined == joins(english, 0.5, seed=3)  # seeded: resumable
    assert joins(temporary_spool(tmp_path, english), 0.5, seed=3) == joined  # (from pairs on disk: the same)
    for pair in joined:
        first, second = pair.source.split(". ", 1)
        assert pair.target.count("le ") == 2
        assert f"{first}." in {p.source for p in english} and second in {p.source for p in english}
    chinese = joins([Pair("I see.", "我明白。"), Pair("Thanks.", "谢谢。")], 1.0, seed=0, chinese_target=True)
    assert all(p.target.count("。") == 2 and " " not in p.target for p in chinese)  # Chinese joins without a space
    assert joins(english, 0.0, seed=3) == []


def test_training_runs_one_thread_per_operation_and_operations_side_by_side():
    """seq2seq-train's thread settings (engine/training/train.py use_cores_op_by_op) take effect in a
    fresh process and hold after TensorFlow has started."""
    code = textwrap.dedent("""
        import os, tensorflow as tf
        from engine.training.train import use_cores_op_by_op
        first = use_cores_op_by_op()
        tf.constant(1.0) + 1.0
        print(first, tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads() == len(os.sched_getaffinity(0)))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "1", "True"], result.stderr[-2000:]


def test_prepare_only_then_resume_trains_from_the_kept_data(tmp_path, reversal_corpus):
    run = RunFolder(tmp_path / "r")
    args = ["--preset", "tiny", "--corpus", reversal_corpus, "--units", "16", "--epochs", "1"]
    prepared = run_script("seq2seq-train", *args, "--run", run.path, "--prepare-only")
    assert prepared.returncode == 0, prepared.stderr
    assert "prepared:" in prepared.stderr and f"seq2seq-train --resume {run.path}" in prepared.stderr
    assert (run.path / "data" / "index.json").is_file() and not run.last_path.exists() and not run.best_path.exists()
    assert run.facts()["epochs_done"] == 0 and run.facts()["train_pairs_used"] > 0
    trained = run_script("seq2seq-train", "--resume", run.path)
    assert trained.returncode == 0, trained.stderr
    assert "on its prepared data (data/)" in trained.stderr
    assert run.facts()["epochs_done"] == 1 and run.facts()["params"] > 0 and run.best_path.exists()
    # the kept data is the data: damaged, it is prepared again from the corpus, and said so
    (run.path / "data" / "index.json").write_text("{", encoding="utf-8")
    again = run_script("seq2seq-train", "--resume", run.path, "--epochs", "2")
    assert again.returncode == 0, again.stderr
    assert "index.json: cannot be read" in again.stderr and "preparing the data again from the corpus" in again.stderr
    assert "on the corpus, prepared again" in again.stderr
    last = run_script("seq2seq-train", "--resume", run.path, "--epochs", "3")  # (data/ was written anew)
    assert last.returncode == 0 and "on its prepared data (data/)" in last.stderr, last.stderr
    assert run_script("seq2seq-train", "--resume", run.path, "--prepare-only").returncode == 2
