"""Both directions: each line goes to the model of its script (Han → zh→en, Latin → en→zh),
in chat, batch and eval, with two toy models trained on a made-up English–Chinese corpus."""

import json
import random
import shutil

import pytest

from engine.text.direction import EN_ZH, ZH_EN, direction_of_script, mismatch, simplify_unknown
from engine.text.script import script_of
from tests.conftest import made_once, run_script, train_toy

WORDS = {"red": "红", "blue": "蓝", "cat": "猫", "dog": "狗", "big": "大", "small": "小", "horse": "马", "bird": "鸟"}


def toy_pairs(count=1200, seed=3) -> list[str]:
    """`red cat.<TAB>红猫。` lines: English words in, one Chinese character per word out."""
    rng = random.Random(seed)
    lines = set()
    while len(lines) < count:
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(1, 4))]
        lines.add(" ".join(words).capitalize() + ".\t" + "".join(WORDS[w] for w in words) + "。")
    return sorted(lines)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """A checkpoints folder holding a toy model of each direction under the shipped names (made
    once per suite, whichever worker needs it first)."""
    with made_once(tmp_path_factory, "both-directions") as (root, missing):
        if missing:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            corpus = root / "toy-cmn.txt"
            corpus.write_text("\n".join(toy_pairs()) + "\n", encoding="utf-8")
            settings = dict(level="word", epochs=8, attention="luong", bidirectional=True, input_feeding=True)
            train_toy(root / "default", corpus, **settings)
            train_toy(root / "default-zh-en", corpus, reverse=True, **settings)
    return root


def tools(*args, checkpoints, input=None):
    return run_script(*args, input=input, env={"SEQ2SEQ_CHECKPOINTS": str(checkpoints)})


# ----------------------------------------------------------------------------------------------
# The script of a line


@pytest.mark.parametrize("text, script", [
    ("Tom is here.", "en"), ("汤姆在这里。", "zh"), ("我爱iPhone。", "zh"), ("I love 饺子.", "en"),
    ("他們在學校裡讀書。", "zh"), ("Zoë Ångström.", "en"), ("123 + 4", None), ("", None), ("。！", None),
])
def test_the_script_of_a_line(text, script):
    assert script_of(text) == script


def test_directions_and_mismatch_warnings():
    assert direction_of_script("zh") == ZH_EN and direction_of_script("en") == EN_ZH and direction_of_script(None) is None
    assert mismatch("Tom is here.", EN_ZH) is None and mismatch("42", ZH_EN) is None
    assert "looks English" in mismatch("Tom is here.", ZH_EN) and "reads Chinese" in mismatch("Tom is here.", ZH_EN)
    assert "looks Chinese" in mismatch("我爱你。", EN_ZH)


def test_only_unknown_traditional_characters_become_simplified():
    known = {"我", "爱", "你", "。", "乾"}
    assert simplify_unknown("我愛你。", known) == ("我爱你。", [("愛", "爱")])
    assert simplify_unknown("我爱你。", known) == ("我爱你。", [])  # simplified stays as it is
    assert simplify_unknown("乾", known) == ("乾", [])  # a character the model knows is never changed
    assert simplify_unknown("Tom 愛", {"爱"}) == ("Tom 爱", [("愛", "爱")])


# ----------------------------------------------------------------------------------------------
# The tools


def test_a_mixed_file_routes_every_line_and_keeps_the_order(checkpoints, tmp_path):
    source = tmp_path / "mixed.txt"
    lines = ["Red cat.", "蓝狗。", "", "Big horse.", "小鸟。", "123", "Small dog."]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = tools("seq2seq-batch", source, "--format", "jsonl", checkpoints=checkpoints)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == lines  # one line out per line in, in order
    outputs = [r["translation"] for r in records]
    for line, output in zip(lines, outputs):
        if script_of(line) == "en":  # translated by the en→zh model: Chinese out
            assert script_of(output) == "zh", (line, output)
        elif script_of(line) == "zh":  # by the zh→en model: English out
            assert script_of(output) == "en", (line, output)
    assert outputs[2] == ""
    assert outputs[0] == "红猫。" and outputs[1].lower() == "blue dog."  # the toy models learnt their task
    assert "en→zh 3, zh→en 3" in result.stderr  # "123" goes the way of the line before it


def test_forcing_a_direction_warns_about_lines_in_the_other_script(checkpoints, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Red cat.\n蓝狗。\n", encoding="utf-8")
    result = tools("seq2seq-batch", source, "--direction", "en-zh", "--quiet", checkpoints=checkpoints)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 and result.stdout.splitlines()[0] == "红猫。"
    assert "line 2: this line looks Chinese, but the model (en→zh) reads English" in result.stderr
    assert "Traceback" not in result.stderr


def test_piped_chat_answers_each_line_in_the_other_language(checkpoints):
    result = tools("seq2seq-chat", input="Red cat.\n蓝狗。\n紅貓。\n", checkpoints=checkpoints)
    assert result.returncode == 0, result.stderr
    english_out, chinese_out, traditional_out = result.stdout.splitlines()
    assert english_out == "红猫。" and chinese_out.lower() == "blue dog."
    assert traditional_out.lower() == "red cat." and "read as simplified: 紅→红 貓→猫" in result.stderr
    forced = tools("seq2seq-chat", "--direction", "zh-en", input="Red cat.\n", checkpoints=checkpoints)
    assert forced.returncode == 0 and len(forced.stdout.splitlines()) == 1
    assert "looks English" in forced.stderr and "Traceback" not in forced.stderr


def test_a_direction_without_a_model_is_a_usage_error(checkpoints, tmp_path):
    only = tmp_path / "only"
    only.mkdir()
    (only / "default").symlink_to(checkpoints / "default")
    result = run_script("seq2seq-chat", "--direction", "zh-en", input="蓝狗。\n", env={"SEQ2SEQ_CHECKPOINTS": str(only)})
    assert result.returncode == 2 and "no zh→en model" in result.stderr and "--preset default-zh-en" in result.stderr


def test_chat_direction_command_and_info_of_the_model_that_answered(checkpoints, tmp_path, capsys, monkeypatch):
    from engine.config import DecodeOptions
    from repl.chat import Chat
    from repl.models import Models, shipped_runs
    from tests.test_chat import drive_models

    monkeypatch.setenv("SEQ2SEQ_CHECKPOINTS", str(checkpoints))
    models = Models(shipped_runs(), options=DecodeOptions(beam=1))
    assert set(models.runs) == {"en-zh", "zh-en"} and not models.loaders  # nothing loaded before it is needed
    text, chat = drive_models(Chat(models, DecodeOptions(beam=1)), "蓝狗。\r/info\r/direction en-zh\r蓝狗。\r/direction sideways\r", tmp_path)
    err = capsys.readouterr().err
    assert text.splitlines()[0].lower() == "blue dog."
    assert "Chinese → English" in err and "zh→en" in err  # /info: the card of the model that answered
    assert "direction: en→zh" in err and "looks Chinese" in err  # forced: a warning, not a crash
    assert "usage: /direction auto|en-zh|zh-en" in err and chat.models.mode == "en-zh"


def test_eval_scores_each_direction_of_a_mixed_file_with_its_own_tokenizer(checkpoints, tmp_path):
    src, refs = tmp_path / "src.txt", tmp_path / "refs.txt"
    src.write_text("Red cat.\n蓝狗。\nBig horse.\n小鸟。\n", encoding="utf-8")
    refs.write_text("红猫。\nBlue dog.\n大马。\nSmall bird.\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = tools("seq2seq-eval", "--src", src, "--refs", refs, "--beam", "1", "--json", out, "--no-record", checkpoints=checkpoints)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) == {"en-zh", "zh-en"}
    assert "tok:zh" in report["en-zh"]["bleu_signature"] and "tok:13a" in report["zh-en"]["bleu_signature"]
    assert report["en-zh"]["sentences"] == report["zh-en"]["sentences"] == 2


def test_the_http_api_serves_both_directions_and_routes_a_mixed_list(checkpoints):
    from tests.test_serve import Server, call

    server = Server(None, "--beam", "1", env={"SEQ2SEQ_CHECKPOINTS": str(checkpoints)})
    try:
        assert call(server.base, "/translate", {"q": "Red cat.", "source": "en", "target": "zh"}) == (200, {"translatedText": "红猫。"})
        status, body = call(server.base, "/translate", {"q": "蓝狗。", "source": "zh", "target": "en"})
        assert status == 200 and body["translatedText"].lower() == "blue dog."
        # a string of the list already in the target language comes back as it is (issue 19;
        # the whole request used to fail with 400)
        status, body = call(server.base, "/translate", {"q": ["Red cat.", "红猫。"], "source": "auto", "target": "zh"})
        assert status == 200 and body["translatedText"] == ["红猫。", "红猫。"]
        status, languages = call(server.base, "/languages")
        assert {(x["code"], tuple(x["targets"])) for x in languages} == {("en", ("zh",)), ("zh", ("en",))}
    finally:
        assert server.stop() == 0
