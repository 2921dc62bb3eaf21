"""seq2seq-batch end to end: the installed script on real files."""

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import run_script, script


@pytest.fixture(scope="module")
def model(toy_run):
    return str(toy_run.path)


def batch(model, *args, **kwargs):
    return run_script("seq2seq-batch", *args, "--model", model, **kwargs)


def test_one_output_line_per_input_line_in_order(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\n\ncafe\nfed\n   \nbead\n", encoding="utf-8")
    result = batch(model, source, "-o", tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "cba\n\nefac\ndef\n\ndaeb\n"
    assert result.stdout == ""
    assert "blank lines" in result.stderr and "samples" in result.stderr


def test_stdin_to_stdout_with_bom_and_crlf(model):
    result = batch(model, "-", input="\ufeffabc\r\n\r\ncafe\r\n".encode())
    assert result.returncode == 0
    assert result.stdout.decode() == "cba\n\nefac\n"


def test_tsv_and_jsonl_carry_source_translation_and_score(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\n\ncafe\n", encoding="utf-8")
    tsv = batch(model, source, "--format", "tsv", "--quiet")
    rows = tsv.stdout.split("\n")
    assert rows[0].split("\t")[:2] == ["abc", "cba"] and float(rows[0].split("\t")[2]) <= 0
    assert rows[1] == "" and rows[2].startswith("cafe\tefac\t")
    jsonl = batch(model, source, "--format", "jsonl", "--quiet")
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["translation"] for r in records] == ["cba", "", "efac"]
    assert records[1]["score"] is None and records[2]["line"] == 3
    assert tsv.stderr == "" and jsonl.stderr == ""


def test_refs_add_bleu_and_chrf_with_signatures(model, tmp_path):
    source, refs = tmp_path / "in.txt", tmp_path / "refs.txt"
    source.write_text("abc\ncafe\n", encoding="utf-8")
    refs.write_text("cba\nefac\tother\n", encoding="utf-8")
    result = batch(model, source, "--refs", refs, "-o", tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    assert "BLEU" in result.stderr and "chrF" in result.stderr
    assert "nrefs:var" in result.stderr and "100.0" in result.stderr


def test_existing_output_is_refused_without_force(model, tmp_path):
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("abc\n", encoding="utf-8")
    out.write_text("keep me\n", encoding="utf-8")
    refused = batch(model, source, "-o", out)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert out.read_text() == "keep me\n"
    forced = batch(model, source, "-o", out, "--force")
    assert forced.returncode == 0 and out.read_text() == "cba\n"


def test_output_equal_to_input_is_refused(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\n", encoding="utf-8")
    result = batch(model, source, "-o", source, "--force")
    assert result.returncode == 2 and "the output is the input" in result.stderr
    assert source.read_text() == "abc\n"


def test_undecodable_bytes_name_the_line_and_leave_no_output(model, tmp_path):
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_bytes(b"abc\ncafe\nab\xffc\n")
    result = batch(model, source, "-o", out)
    assert result.returncode == 1
    assert f"{source}:3: not valid UTF-8" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [source]
    replaced = batch(model, source, "-o", out, "--errors", "replace")
    assert replaced.returncode == 0 and len(out.read_text().splitlines()) == 3


def test_empty_file_and_very_long_lines(model, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = batch(model, empty, "-o", tmp_path / "empty.out")
    assert result.returncode == 0 and (tmp_path / "empty.out").read_text() == ""
    long = tmp_path / "long.txt"
    long.write_text("abc\n" + "abcdef. " * 2000 + "\nfed\n", encoding="utf-8")
    result = batch(model, long, "-o", tmp_path / "long.out")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "long.out").read_text().split("\n")
    assert lines[0] == "cba" and lines[2] == "def" and len(lines) == 4


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_output(model, tmp_path, sig):
    source, out = tmp_path / "big.txt", tmp_path / "out.txt"
    source.write_text("abc\ncafe\nbead\n" * 100_000, encoding="utf-8")
    process = subprocess.Popen(
        [script("seq2seq-batch"), source, "-o", out, "--model", model],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # a suite started in the background (`pytest &`) has SIGINT ignored, and a child keeps that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    def written():  # the first chunk is in the temporary output: the model is loaded and translating
        return any(p.stat().st_size > 0 for p in tmp_path.glob(".out.txt.*.part"))

    deadline = time.time() + 180
    while time.time() < deadline and not written():
        time.sleep(0.05)
    assert written(), "the translation never started"
    process.send_signal(sig)
    assert process.wait(timeout=60) != 0
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]


def test_no_model_anywhere_is_a_usage_error(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\n", encoding="utf-8")
    result = run_script("seq2seq-batch", source, env={"SEQ2SEQ_CHECKPOINTS": str(tmp_path / "none")})
    assert result.returncode == 2 and "seq2seq-train" in result.stderr
