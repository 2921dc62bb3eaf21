"""The fast tier for the chat and the batch tool: their own code, in-process, over a stand-in
translator (tests/fakes.py); the slow tier runs the same tools on trained models."""

from __future__ import annotations

import io
import json

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from engine.config import DecodeOptions
from engine.text.direction import EN_ZH, ZH_EN
from repl import batch
from repl.chat import Chat, private_history, run_interactive
from tests.fakes import fake_models


def type_into(chat: Chat, keys: str, tmp_path) -> str:
    chat.history = private_history(tmp_path / "history")
    chat.out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()
        assert run_interactive(chat, PromptSession(input=pipe, output=DummyOutput(), history=chat.history)) == 0
    return chat.out.getvalue()


def test_each_line_goes_to_the_model_of_its_script(tmp_path):
    models = fake_models()
    chat = Chat(models, interactive=False)
    out = type_into(chat, "abc\r你好\r42\r", tmp_path)
    assert out.splitlines() == ["cba", "好你", "24"]
    assert [c[0] for c in models.loaders[EN_ZH].translator.calls] == [["abc"]]
    # a line with neither script (42) goes the way the line before it went
    assert [c[0] for c in models.loaders[ZH_EN].translator.calls] == [["你好"], ["42"]]


def test_beam_and_nbest_commands_change_the_one_set_of_options(tmp_path, capsys):
    models = fake_models(DecodeOptions(beam=4, n_best=1))
    chat = Chat(models, interactive=True)
    type_into(chat, "/beam 2\r/nbest 3\rabc\r/beam 1\r", tmp_path)
    assert chat.options == DecodeOptions(beam=1, n_best=1)  # a smaller beam lowers n_best with it
    options_used = models.loaders[EN_ZH].translator.calls[-1][1]
    assert (options_used.beam, options_used.n_best) == (3, 3)  # /nbest 3 widened beam 2 to 3
    assert [o.beam for o in models.loaders[EN_ZH].rewarmed] == [2, 3, 1]  # each compiled at once
    assert "3 best" in capsys.readouterr().err


def test_glossary_command_adds_shows_and_removes_terms(tmp_path, capsys):
    models = fake_models()
    chat = Chat(models, interactive=True)
    out = type_into(chat, "/glossary add cat = 猫咪\r/glossary add Acme\r/glossary\rmy cat\r/glossary remove cat\rmy cat\r", tmp_path)
    assert out.splitlines() == ["猫咪 ym", "tac ym"]
    err = capsys.readouterr().err
    assert "cat → 猫咪" in err and "Acme → (kept as it is)" in err
    assert "removed cat" in err


def test_glossary_command_usage_errors_keep_the_session(tmp_path, capsys):
    chat = Chat(fake_models(), interactive=True)
    out = type_into(chat, "/glossary remove nothing\r/glossary frob\rabc\r", tmp_path)
    assert out == "cba\n"
    err = capsys.readouterr().err
    assert "'nothing' is not in the glossary" in err and "usage: /glossary" in err


def test_nbest_shows_one_table_per_sentence(tmp_path, capsys):
    chat = Chat(fake_models(DecodeOptions(beam=2, n_best=2)), interactive=True)
    out = type_into(chat, "One. Two.\r", tmp_path)
    assert out == ".enO .owT\n"
    err = capsys.readouterr().err
    assert "2 best: One." in err and "2 best: Two." in err


# ----------------------------------------------------------------------------------------------
# seq2seq-batch in-process


@pytest.fixture
def models(monkeypatch):
    session = fake_models()
    monkeypatch.setattr(batch.Models, "for_session", classmethod(lambda cls, *a, **k: _with(session, k)))
    return session


def _with(session, kwargs):
    session.glossary = kwargs.get("glossary")
    session.memory = kwargs.get("memory")
    session.options = kwargs.get("options", session.options)
    return session


def run_batch(*args) -> int:
    return batch.main([str(a) for a in args])


def test_batch_writes_one_line_per_input_line_each_by_its_script(models, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("abc\n\n你好\n   \nOne. Two.\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out.txt", "--quiet") == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "cba\n\n好你\n\n.enO .owT\n"


def test_batch_formats_carry_source_translation_and_score(models, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("abc\n\ncafe\n", encoding="utf-8")
    assert run_batch(source, "--format", "jsonl", "--quiet") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["translation"] for r in records] == ["cba", "", "efac"] and records[1]["score"] is None
    assert run_batch(source, "--format", "tsv", "--quiet") == 0
    assert capsys.readouterr().out.split("\n")[0].split("\t")[:2] == ["abc", "cba"]


def test_batch_html_keeps_the_markup(models, tmp_path):
    source = tmp_path / "page.html"
    source.write_text('<p class="x">Hello <b>world</b>!</p>\n', encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out.html", "--quiet") == 0
    assert (tmp_path / "out.html").read_bytes().decode() == '<p class="x">!<b>dlrow</b> olleH</p>\n'  # (the sentence whole, its inline element inside it; every byte kept, the last newline too)


def test_batch_srt_keeps_numbers_and_timings(models, tmp_path):
    source = tmp_path / "movie.srt"
    source.write_text("1\n00:00:01,000 --> 00:00:02,500\nHello there.\nHow are you?\n\n2\n00:00:03,000 --> 00:00:04,000\nFine.\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "movie.zh.srt", "--quiet") == 0
    out = (tmp_path / "movie.zh.srt").read_text(encoding="utf-8").splitlines()
    assert out[:3] == ["1", "00:00:01,000 --> 00:00:02,500", ".ereht olleH ?uoy era woH"]
    assert out[4:7] == ["2", "00:00:03,000 --> 00:00:04,000", ".eniF"]


def test_broken_srt_is_one_line_naming_the_file_and_leaves_no_output(models, tmp_path, capsys):
    source = tmp_path / "movie.srt"
    source.write_text("1\n00:00:01,000 --> 00:00:02,000\nok\n\nnot a cue\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out.srt") == 1
    assert f"{source}:5: not a subtitle cue" in capsys.readouterr().err
    assert not (tmp_path / "out.srt").exists()


def test_batch_glossary_file_applies_and_a_bad_line_is_named(models, tmp_path, capsys):
    source, glossary = tmp_path / "in.txt", tmp_path / "terms.tsv"
    source.write_text("my cat\n", encoding="utf-8")
    glossary.write_text("cat\t猫咪\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out.txt", "--glossary", glossary, "--quiet") == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "猫咪 ym\n"
    glossary.write_text("cat\t猫咪\nthree\tcolumns\there\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out2.txt", "--glossary", glossary) == 1
    assert f"{glossary}:2: expected 'term<TAB>translation', found 3 columns" in capsys.readouterr().err
    assert not (tmp_path / "out2.txt").exists()


def test_batch_summary_counts_lines_of_several_sentences(models, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("One. Two.\nabc\n", encoding="utf-8")
    assert run_batch(source, "-o", tmp_path / "out.txt") == 0
    err = capsys.readouterr().err
    assert "lines of several sentences" in err and "truncated" in err
