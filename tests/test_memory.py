"""The translation memory (engine/memory, seq2seq-memory): corrections kept in SQLite and served
exactly by every tool, similar entries offered, TMX in and out, merges, two writers at once, and
a damaged file named and left alone. Fast tier: no TensorFlow (the tools run over the stand-in
translator of tests/fakes.py; the browser test is in tests/test_web.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from engine.memory.store import Entry, MemoryFileError, TranslationMemory
from engine.memory.tmx import read_tmx_entries
from engine.text.direction import EN_ZH, ZH_EN
from repl import batch
from repl import memory as memory_tool
from repl.chat import Chat
from tests.fakes import fake_models
from tests.test_tools_fast import type_into


def entries_of(memory: TranslationMemory) -> list[Entry]:
    return sorted((replace(e, id=None) for e in memory.entries()), key=lambda e: (e.direction, e.source))


def test_a_correction_is_served_exactly_and_similar_lines_are_offered(tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    assert memory.lookup(EN_ZH, ["I write Python every day."]) == [None] and not memory.path.exists()  # lookups never create it
    memory.correct(EN_ZH, "I write  Python every day.", "我每天写Python。", model="default")
    exact, spaced, similar, other, blank = memory.lookup(
        EN_ZH, ["I write Python every day.", "I  write Python every day. ", "I write Python every day!", "I like tea.", "  "])
    assert exact.exact and exact.entry.target == "我每天写Python。" and exact.entry.model == "default"
    assert spaced.exact  # the normal form every tool reads: spaces do not matter
    assert not similar.exact and 85 <= similar.score < 100 and similar.entry.target == "我每天写Python。"
    assert other is None and blank is None
    assert memory.lookup(ZH_EN, ["I write Python every day."]) == [None]  # each direction its own


def test_the_newest_translation_wins_and_the_older_one_is_kept(tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    first = Entry(EN_ZH, "Open file", "打开文件", "import", time="2026-01-01T00:00:00Z")
    newer = Entry(EN_ZH, "Open file", "打开该文件", "correction", time="2026-06-01T00:00:00Z")
    older = Entry(EN_ZH, "Open file", "开文件", "import", time="2025-01-01T00:00:00Z")
    assert memory.add([first]) == {"added": 1}
    assert memory.add([newer, older, newer]) == {"replaced": 1, "older": 1, "unchanged": 1}
    assert [e.target for e in memory.entries()] == ["打开该文件"]
    assert [e.target for e in memory.superseded()] == ["开文件", "打开文件"]  # nothing a person wrote is lost


def test_a_correction_always_wins_and_an_undated_import_never_undoes_one(tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    memory.add([Entry(EN_ZH, "Hello", "导入", "import", time="2099-01-01T00:00:00Z")])  # (a clock far ahead)
    memory.correct(EN_ZH, "Hello", "你好")
    assert memory.lookup(EN_ZH, ["Hello"])[0].entry.target == "你好"
    tsv = tmp_path / "terms.tsv"
    tsv.write_text("Hello\t嗨\nBye\t再见\n", encoding="utf-8")
    for _ in range(2):  # (seq2seq-batch --memory-import imports it at every run)
        assert memory_tool.main(["--memory", str(memory.path), "import", str(tsv)]) == 0
    assert {e.source: e.target for e in memory.entries()} == {"Hello": "你好", "Bye": "再见"}
    assert [e.target for e in memory.superseded()] == ["导入"]


def test_control_characters_never_reach_the_tmx(tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    memory.correct(EN_ZH, "Press\x1b[0m Esc\x00", "按\x07Esc")
    tmx = tmp_path / "out.tmx"
    assert memory_tool.main(["--memory", str(memory.path), "export", str(tmx)]) == 0
    assert [(e.source, e.target) for e in read_tmx_entries(tmx)] == [("Press[0m Esc", "按Esc")]


def test_a_translation_with_brackets_is_listed_as_written(tmp_path, capsys):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    memory.correct(EN_ZH, "Press [/] to close [red]now", "按 [/] 关闭")
    assert memory_tool.main(["--memory", str(memory.path), "list"]) == 0
    err = capsys.readouterr().err
    assert "[/]" in err and "[red]now" in err


def test_tmx_export_then_import_into_an_empty_memory_gives_the_same_entries(tmp_path, capsys):
    path, copy, tmx = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "out.tmx"
    memory = TranslationMemory(path)
    memory.add([
        Entry(EN_ZH, "Save <b>as</b> & close", "另存为并关闭", "correction", "default", "2026-12-01T10:00:00Z"),
        Entry(ZH_EN, "你好，世界！", 'Hello, "world"!', "glossary", "", "2026-12-02T11:30:05Z"),
        Entry(EN_ZH, "Tab\tinside", "里面", "import", "", "2026-12-03T00:00:00Z"),
    ])
    assert memory_tool.main(["--memory", str(path), "export", str(tmx)]) == 0
    assert memory_tool.main(["--memory", str(copy), "import", str(tmx)]) == 0
    assert entries_of(TranslationMemory(copy)) == entries_of(memory) and len(entries_of(memory)) == 3
    assert memory_tool.main(["--memory", str(path), "export", str(tmx)]) == 2  # an existing file stays without --force
    assert "exists" in capsys.readouterr().err


def test_merging_two_memories_keeps_both_and_the_newest_wins(tmp_path, capsys):
    ours, theirs = TranslationMemory(tmp_path / "ours.sqlite"), TranslationMemory(tmp_path / "theirs.sqlite")
    ours.add([Entry(EN_ZH, "Cancel", "取消", time="2026-01-01T00:00:00Z"), Entry(EN_ZH, "Open", "打开", time="2026-03-01T00:00:00Z")])
    theirs.add([Entry(EN_ZH, "Close", "关闭", time="2026-01-01T00:00:00Z"), Entry(EN_ZH, "Open", "开启", time="2026-02-01T00:00:00Z"),
                Entry(EN_ZH, "Cancel", "撤销", time="2026-05-01T00:00:00Z")])
    assert memory_tool.main(["--memory", str(ours.path), "import", str(theirs.path)]) == 0
    assert {e.source: e.target for e in ours.entries()} == {"Cancel": "撤销", "Open": "打开", "Close": "关闭"}
    assert sorted(e.target for e in ours.superseded()) == ["取消", "开启"]
    assert "entries now" in capsys.readouterr().err


def test_two_processes_correcting_at_once_lose_nothing(tmp_path):
    """Each corrects its own 100 lines and the same 100 shared ones: every translation is kept,
    the shared lines' losing ones as superseded."""
    path = tmp_path / "m.sqlite"
    writer = (
        "import sys\nfrom engine.memory.store import TranslationMemory\n"
        "m = TranslationMemory(sys.argv[1])\n"
        "for i in range(100):\n"
        "    m.correct('en-zh', f'{sys.argv[2]} line {i}', f'第{i}行')\n"
        "    m.correct('en-zh', f'shared line {i}', f'{sys.argv[2]}的第{i}行')\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", writer, str(path), name]) for name in ("first", "second")]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    memory = TranslationMemory(path)
    assert len(memory) == 300
    shared = {e.source: e.target for e in memory.entries() if e.source.startswith("shared")}
    lost = {e.source: e.target for e in memory.superseded()}
    assert len(shared) == len(lost) == 100 and all({shared[k], lost[k]} == {f"first的第{k[12:]}行", f"second的第{k[12:]}行"} for k in shared)


@pytest.mark.parametrize("damage", ["garbage", "another database", "truncated"])
def test_a_damaged_memory_is_named_in_one_line_and_left_as_it_is(tmp_path, capsys, damage):
    path = tmp_path / "memory.sqlite"
    if damage == "garbage":
        path.write_bytes(b"not sqlite at all\n" * 500)
    elif damage == "another database":
        import sqlite3

        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE notes (text)")
    else:
        good = TranslationMemory(tmp_path / "good.sqlite")
        good.add(Entry(EN_ZH, f"line {i} " * 20, "行" * 50) for i in range(300))
        data = good.path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    before = path.read_bytes()
    with pytest.raises(MemoryFileError, match=str(path)):
        TranslationMemory(path)
    assert memory_tool.main(["--memory", str(path), "add", "Hello", "你好"]) == 1
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("abc\n")
    assert batch.main([str(source), "-o", str(out), "--memory", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and all(str(path) in line for line in err.strip().splitlines())
    assert path.read_bytes() == before and not out.exists()


def test_a_bad_line_imports_nothing_of_its_file(tmp_path, capsys):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    tsv = tmp_path / "corrections.tsv"
    tsv.write_text("Open file\t打开文件\n保存\tSave\nno tab here\n", encoding="utf-8")
    assert memory_tool.main(["--memory", str(memory.path), "import", str(tsv)]) == 1
    assert f"{tsv}:3:" in capsys.readouterr().err and len(memory) == 0
    tsv.write_text("Open file\t打开文件\n保存\tSave\tCC-BY 2.0 (France) Attribution: tatoeba.org\n", encoding="utf-8")
    assert memory_tool.main(["--memory", str(memory.path), "import", str(tsv)]) == 0
    assert {(e.direction, e.source) for e in memory.entries()} == {(EN_ZH, "Open file"), (ZH_EN, "保存")}  # by each source's script


def test_a_tmx_of_another_tool_imports_by_its_header_language(tmp_path):
    tmx = tmp_path / "omegat.tmx"
    tmx.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="EN-US" creationtool="OmegaT"/><body>\n'
        '<tu><tuv lang="EN-US"><seg>Open file</seg></tuv><tuv lang="ZH-CN"><seg>打开文件</seg></tuv></tu>\n'
        '<tu><tuv lang="EN-US"><seg>Alone</seg></tuv></tu>\n'
        '<tu changedate="20200101T101010Z"><tuv xml:lang="en"><seg>Save <ph>&lt;b&gt;</ph>as</seg></tuv>'
        '<tuv xml:lang="zh"><seg>另存为</seg></tuv></tu>\n</body></tmx>\n', encoding="utf-8")
    skipped: list[int] = []
    entries = list(read_tmx_entries(tmx, skipped))
    assert [(e.direction, e.source, e.target, e.origin) for e in entries] == [
        (EN_ZH, "Open file", "打开文件", "import"), (EN_ZH, "Save as", "另存为", "import")]
    assert entries[1].time == "2020-01-01T10:10:10Z" and skipped == [4]  # (the line of the lone unit)


# ----------------------------------------------------------------------------------------------
# Every tool serves a correction exactly, and marks it


def test_a_correction_in_the_chat_is_served_by_the_chat_and_batch(tmp_path, capsys, monkeypatch):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    chat = Chat(fake_models(memory=memory), interactive=True)
    out = type_into(chat, "/fix too early\rI like tea.\r/fix 我喜欢茶。\rI like tea.\rI like tea!\r", tmp_path)
    assert out.splitlines() == [".aet ekil I", "我喜欢茶。", "!aet ekil I"]
    err = capsys.readouterr().err
    assert "nothing to correct yet" in err and "from the translation memory (correction" in err
    assert "similar in memory (91%): I like tea. → 我喜欢茶。" in err
    assert [e.model for e in memory.entries()] == ["fake-en-zh"]
    # the batch tool, over the same memory: the exact line from it, the similar one offered in jsonl
    session = fake_models(memory=memory)
    monkeypatch.setattr(batch.Models, "for_session", classmethod(lambda cls, *a, **k: session))
    source = tmp_path / "in.txt"
    source.write_text("I like tea.\nI like tea!\nabc\n", encoding="utf-8")
    assert batch.main([str(source), "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["translation"] for r in rows] == ["我喜欢茶。", "!aet ekil I", "cba"]
    assert rows[0]["memory"]["match"] == 100 and rows[1]["memory"]["match"] == pytest.approx(90.9, abs=0.1) and "memory" not in rows[2]
    assert "from the translation memory" in captured.err and "1 line" in captured.err


def test_the_api_serves_and_keeps_corrections(tmp_path):
    from starlette.testclient import TestClient

    from tests.test_serve import app_of, post

    memory = TranslationMemory(tmp_path / "m.sqlite")
    with TestClient(app_of(pairs=(("en", "zh"), ("zh", "en")), memory=memory)) as client:
        assert post(client, {"q": "I like tea.", "source": "en", "target": "zh"})[1] == {"translatedText": ".aet ekil I"}  # LibreTranslate's answer, unchanged
        status, saved = post(client, {"q": "I like tea.", "translation": "我喜欢茶。", "source": "auto", "target": "zh"}, path="/memory")
        assert status == 200 and saved["direction"] == EN_ZH and saved["translation"] == "我喜欢茶。"
        status, body = post(client, {"q": ["I like tea.", "I like tea!", "abc"], "source": "en", "target": "zh"})
        assert body["translatedText"] == ["我喜欢茶。", "!aet ekil I", "cba"]
        assert [m and m["match"] for m in body["memory"]] == [100.0, pytest.approx(90.9, abs=0.1), None]
        assert post(client, {"q": "I like tea.", "source": "en", "target": "zh", "memory": False})[1]["translatedText"] == ".aet ekil I"
        for data, status, message in [({"q": "x"}, 400, "non-empty strings"), ({"q": ["a"], "translation": "b"}, 400, "non-empty strings"),
                                      ({"q": "a", "translation": "b", "target": "fr"}, 400, "not supported")]:
            got, body = post(client, data, path="/memory")
            assert got == status and message in body["error"]
    with TestClient(app_of()) as client:  # a server without a memory
        assert post(client, {"q": "a", "translation": "b"}, path="/memory")[0] == 403
