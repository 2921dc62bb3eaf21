"""gettext catalogues through seq2seq-batch (engine/text/catalogues.py): untranslated entries
filled and marked fuzzy, translations already there kept, plural forms, the translation memory
first. Fast tier over the stand-in translator (it reverses text, so a placeholder comes out
reversed: the lost-placeholder comment); the slow tier carries placeholders through a real
model (tests/test_real_text.py)."""

from __future__ import annotations

import polib
import pytest

from engine.memory.store import TranslationMemory
from engine.text.direction import EN_ZH
from repl import batch
from tests.fakes import fake_models

CATALOGUE = '''# A program's catalogue.
msgid ""
msgstr ""
"Project-Id-Version: demo 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"

#: main.c:10
msgid "Open file"
msgstr ""

#: main.c:11
msgid "Save"
msgstr "保存"

#: main.c:12
#, python-format
msgid "One file"
msgid_plural "Many files"
msgstr[0] ""

#: main.c:13
msgid "Hello %s"
msgstr ""

#~ msgid "Old"
#~ msgstr "旧"
'''


@pytest.fixture
def session(monkeypatch, tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    models = fake_models(memory=memory)
    monkeypatch.setattr(batch.Models, "for_session", classmethod(lambda cls, *a, **k: models))
    return models


def fill(tmp_path, text: str, *options, name="app.po") -> polib.POFile:
    source, out = tmp_path / name, tmp_path / "out.po"
    source.write_text(text, encoding="utf-8")
    assert batch.main([str(source), "-o", str(out), "--quiet", "--force", *options]) == 0
    return polib.pofile(str(out))


def test_untranslated_entries_are_filled_and_marked_fuzzy_and_the_rest_kept(session, tmp_path):
    po = fill(tmp_path, CATALOGUE)
    by_id = {e.msgid: e for e in po}
    assert by_id["Open file"].msgstr == "elif nepO" and "fuzzy" in by_id["Open file"].flags
    assert by_id["Save"].msgstr == "保存" and "fuzzy" not in by_id["Save"].flags  # never overwritten unless asked
    plural = by_id["One file"]
    assert plural.msgstr_plural == {0: "selif ynaM"} and plural.flags == ["python-format", "fuzzy"]  # one form: the general one
    assert po.metadata["Project-Id-Version"] == "demo 1.0" and [e.msgid for e in po.obsolete_entries()] == ["Old"]
    assert "lost %s" in by_id["Hello %s"].tcomment  # (the stand-in reversed it: 's% olleH')
    assert session.loaders[EN_ZH].translator.calls[0][0] == ["Open file", "One file", "Many files", "Hello %s"]
    retranslated = {e.msgid: e for e in fill(tmp_path, CATALOGUE, "--retranslate")}
    assert retranslated["Save"].msgstr == "evaS" and "fuzzy" in retranslated["Save"].flags


def test_a_label_gets_no_full_stop_and_a_catalogue_without_comments_gets_none(session, tmp_path):
    labels = fill(tmp_path, 'msgid "。Open"\nmsgstr ""\n\nmsgid ".Done."\nmsgstr ""\n')  # (reversed: 'nepO。', '.enoD.')
    assert {e.msgid: e.msgstr for e in labels} == {"。Open": "nepO", ".Done.": ".enoD."}
    assert (tmp_path / "out.po").read_text(encoding="utf-8").startswith('msgid ""\n')  # (not polib's lone "#")


def test_lines_breaks_a_partly_translated_plural_and_a_templates_charset(session, tmp_path):
    text = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=CHARSET\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
            'msgid "Usage:\\n  prog [options]\\n"\nmsgstr ""\n\n'
            'msgid "One"\nmsgid_plural "Many"\nmsgstr[0] "一个"\nmsgstr[1] ""\n')
    po = fill(tmp_path, text, name="app.pot")
    by_id = {e.msgid: e for e in po}
    assert by_id["Usage:\n  prog [options]\n"].msgstr == ":egasU\n  ]snoitpo[ gorp\n"  # each line, its breaks and indent kept
    assert by_id["One"].msgstr_plural == {0: "一个", 1: "ynaM"}  # the form already written stays
    assert po.metadata["Content-Type"] == "text/plain; charset=UTF-8"


def test_a_template_gets_the_target_languages_plural_forms(session, tmp_path):
    template = CATALOGUE.replace('"Plural-Forms: nplurals=1; plural=0;\\n"\n', "").replace('msgstr "保存"', 'msgstr ""')
    po = fill(tmp_path, template, name="app.pot")
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;" and po.metadata["Language"] == "zh_CN"
    assert {e.msgid: e.msgstr_plural for e in po if e.msgid_plural} == {"One file": {0: "selif ynaM"}}
    two_forms = fill(tmp_path, CATALOGUE.replace("nplurals=1; plural=0;", "nplurals=2; plural=(n != 1);"))
    assert {e.msgid: e.msgstr_plural for e in two_forms if e.msgid_plural} == {"One file": {0: "elif enO", 1: "selif ynaM"}}


def test_the_memory_comes_first_and_its_entries_are_not_fuzzy(session, tmp_path):
    session.memory.correct(EN_ZH, "Open file", "打开文件")
    by_id = {e.msgid: e for e in fill(tmp_path, CATALOGUE)}
    assert by_id["Open file"].msgstr == "打开文件" and "fuzzy" not in by_id["Open file"].flags
    assert "fuzzy" in by_id["Hello %s"].flags


def test_a_broken_catalogue_is_one_line_naming_it_and_nothing_is_written(session, tmp_path, capsys):
    source, out = tmp_path / "bad.po", tmp_path / "out.po"
    source.write_text('msgid "a"\nmsgstr ""\nnonsense here\n', encoding="utf-8")
    assert batch.main([str(source), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{source}" in err and "not a gettext catalogue" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
