"""seq2seq-chat: the session logic through prompt_toolkit's pipe input, a real pseudo-terminal,
and piped mode."""

import io
import os
import stat

import pexpect
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from engine.config import DecodeOptions
from repl.chat import Chat, SlashCompleter, private_history, run_interactive
from tests.conftest import run_script, script


def drive(run, keys: str, tmp_path, settings=None):
    """Type `keys` into a real PromptSession (pipe input, dummy output); return stdout text."""
    history = private_history(tmp_path / "history")
    return drive_models(Chat(run, settings or DecodeOptions(), history, out=io.StringIO()), keys, tmp_path)


def drive_models(chat, keys: str, tmp_path):
    """Type `keys` into a session of `chat` (its history, if it has none, in tmp_path)."""
    chat.history = chat.history or private_history(tmp_path / "history")
    chat.out = io.StringIO()
    try:
        with create_pipe_input() as pipe:
            pipe.send_text(keys)
            pipe.close()
            session = PromptSession(input=pipe, output=DummyOutput(), history=chat.history)
            assert run_interactive(chat, session) == 0
    finally:
        chat.close()  # the background warm-up must not outlive the test inside TensorFlow
    return chat.out.getvalue(), chat


def test_lines_translate_and_commands_change_settings(toy_run, tmp_path, capsys):
    text, chat = drive(toy_run, "abc\r/beam 3\r/nbest 2\r/bogus\r/beam x\rcafe\r/info\r/quit\r", tmp_path)
    assert text == "cba\nefac\n"
    assert (chat.options.beam, chat.options.n_best) == (3, 2)
    err = capsys.readouterr().err
    assert "unknown command /bogus" in err and "usage: /beam K" in err
    assert "2 best" in err and "model card" in err and "Traceback" not in err
    assert "abc" in (tmp_path / "history").read_text()


def test_ctrl_c_clears_the_line_and_keeps_the_session(toy_run, tmp_path):
    text, _ = drive(toy_run, "abc\x03fed\r", tmp_path)
    assert text == "def\n"


def test_multi_line_paste_translates_each_line_in_order(toy_run, tmp_path):
    text, _ = drive(toy_run, "\x1b[200~abc\ncafe\nfed\x1b[201~\r", tmp_path)
    assert text == "cba\nefac\ndef\n"


def test_align_draws_the_attention_of_the_last_translation(toy_attention_run, tmp_path, capsys):
    drive(toy_attention_run, "/align\rabcd\r/align\r", tmp_path)
    err = capsys.readouterr().err
    assert "nothing translated yet" in err and "attention" in err and "truncated" not in err
    assert err.count("│1 │") >= 3  # reversal: each output character attends to one input character
    assert "peaks: d→d c→c b→b a→a" in err  # …and the text summary names it


def test_align_without_attention_gives_a_hint(toy_run, tmp_path, capsys):
    drive(toy_run, "abc\r/align\r", tmp_path)
    assert "has no attention" in capsys.readouterr().err


def test_history_file_is_private(tmp_path):
    private_history(tmp_path / "sub" / "history")
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "history").st_mode) == 0o600


def test_slash_commands_complete():
    from prompt_toolkit.document import Document

    names = [c.text for c in SlashCompleter().get_completions(Document("/n"), None)]
    assert names == ["/nbest"]


def test_piped_mode_aligns_output_lines_with_input_lines(toy_run):
    result = run_script("seq2seq-chat", "--model", toy_run.path, input="abc\n\ncafe\n   \nfed\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "cba\n\nefac\n\ndef\n"
    assert "\x1b[" not in result.stdout


def test_no_model_says_how_to_train_one(tmp_path):
    result = run_script("seq2seq-chat", input="abc\n", env={"SEQ2SEQ_CHECKPOINTS": str(tmp_path)})
    assert result.returncode == 2 and "seq2seq-train --preset default" in result.stderr


def test_real_terminal_session_with_history(toy_run, tmp_path):
    history = tmp_path / "history"
    args = ["--model", str(toy_run.path), "--history-file", str(history)]
    child = pexpect.spawn(script("seq2seq-chat"), args, encoding="utf-8", timeout=90, dimensions=(40, 120))
    child.expect("›")
    child.sendline("abc")
    child.expect("cba")
    child.expect("ms")
    child.expect("›")
    child.sendline("/beam 2")
    child.expect("beam 2")
    child.expect("›")
    child.send("some half-typed line")
    child.sendcontrol("c")
    child.sendline("cafe")
    child.expect("efac")
    child.expect("›")  # keys typed while a translation runs meet the terminal's cooked mode
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    saved = history.read_text()
    assert "+abc" in saved and "+cafe" in saved and "half-typed" not in saved
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600

    again = pexpect.spawn(script("seq2seq-chat"), args, encoding="utf-8", timeout=90, dimensions=(40, 120))
    again.expect("›")
    again.send("\x1b[A")  # Up: the previous session's last line comes back
    again.send("\r")
    again.expect("efac")
    again.expect("›")
    again.sendcontrol("r")  # reverse search through history
    again.expect("reverse-i-search")
    again.send("ab")
    again.expect("c")  # the match "abc", drawn with "ab" highlighted
    again.send("\r")  # accept the match into the line…
    again.expect("›")
    again.send("\r")  # …and translate it
    again.expect("cba")
    again.expect("›")
    again.sendline("/quit")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0


def test_beam_command_compiles_the_new_beam_before_the_next_sentence(toy_run):
    chat = Chat(toy_run, DecodeOptions(beam=1), out=io.StringIO(), interactive=False)
    try:
        chat.translate_lines(["abc"])  # loads the model and its beam-1 graphs
        translator = chat.loader.get()
        before = translator.graph("beam", guard=True).experimental_get_tracing_count()
        chat.command("/beam 3")
        chat.loader.thread.join()  # the background warm-up of beam 3
        warmed = translator.graph("beam", guard=True).experimental_get_tracing_count()
        assert warmed > before
        chat.translate_lines(["abc"])
        assert translator.graph("beam", guard=True).experimental_get_tracing_count() == warmed  # nothing left to compile
        assert chat.out.getvalue() == "cba\ncba\n"
    finally:
        chat.close()
