"""XLIFF (1.2 and 2.x) and Markdown for translation (engine/text/xliff.py, engine/text/markdown.py):
the text translated, every other byte kept, inline codes and markup where the translation put
their text. Fast tier: a stand-in translation (upper case) shows where each text went; the
documents through seq2seq-batch use the reversing stand-in model (tests/fakes.py)."""

from __future__ import annotations

import re

import pytest

from engine.memory.store import TranslationMemory
from engine.text.markdown import MarkdownDocument
from engine.text.xliff import XliffDocument, XliffError
from repl import batch
from tests.fakes import fake_models

XLIFF_12 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- exported by a CAT tool -->
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
  <file source-language="en" target-language="zh-CN" datatype="plaintext" original="app.txt">
    <body>
      <trans-unit id="1">
        <source>Click <g id="1">Save</g> to keep <x id="2"/> your work &amp; files.</source>
        <note>A button label inside a sentence.</note>
      </trans-unit>
      <trans-unit id="2">
        <source>Cancel</source>
        <target state="translated">取消</target>
      </trans-unit>
      <trans-unit id="3" translate="no">
        <source>ACME</source>
      </trans-unit>
      <trans-unit id="4">
        <source>Open the file.</source>
        <target/>
        <alt-trans><source>Open a file.</source><target>打开一个文件。</target></alt-trans>
      </trans-unit>
    </body>
  </file>
</xliff>
"""

XLIFF_20 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="zh">
 <file id="f1">
  <unit id="u1">
   <segment>
    <source>Press <pc id="1">Start</pc> now.<ph id="2"/></source>
   </segment>
   <ignorable><source> </source></ignorable>
   <segment state="final">
    <source>Done.</source>
    <target>完成。</target>
   </segment>
  </unit>
 </file>
</xliff>
"""


def upper(texts: list[str]) -> list[str]:
    return [text.upper() for text in texts]


def test_xliff_12_gets_a_target_for_each_untranslated_source_and_keeps_every_other_byte():
    document = XliffDocument(XLIFF_12, "app.xlf")
    assert document.version == "1.2"
    out = document.render(upper(document.texts))
    assert ('<target state="needs-review-translation">CLICK <g id="1">SAVE</g> TO KEEP <x id="2"/> YOUR WORK &amp; FILES.</target>'
            in out)
    assert '<target state="needs-review-translation">OPEN THE FILE.</target>' in out  # (the empty target replaced)
    assert "<target>打开一个文件。</target>" in out and "OPEN A FILE" not in out  # (alt-trans: a suggestion, left alone)
    assert "<source>ACME</source>\n      </trans-unit>" in out  # (translate="no")
    assert '<target state="translated">取消</target>' in out  # (already translated: kept)
    inserted = re.compile(r'\n *<target state="needs-review-translation">[^\n]*</target>')
    assert inserted.sub("", out.replace('<target state="needs-review-translation">OPEN THE FILE.</target>', "<target/>")) == XLIFF_12
    assert document.counts == {"units": 3, "filled": 2, "from memory": 0}


def test_a_filled_xliff_has_nothing_left_to_translate_and_retranslating_replaces_targets():
    filled = XliffDocument(XLIFF_12, "app.xlf")
    out = filled.render(upper(filled.texts))
    assert XliffDocument(out, "out.xlf").texts == []
    again = XliffDocument(out, "out.xlf", overwrite=True)
    assert "Cancel" in again.texts
    rewritten = again.render([t.lower() for t in again.texts], remembered=[True] * len(again.texts))
    assert '<target state="translated">cancel</target>' in rewritten and "取消" not in rewritten.split("<alt-trans>")[0]


def test_xliff_2_fills_segments_leaves_ignorables_and_keeps_inline_codes():
    document = XliffDocument(XLIFF_20, "app.xlf")
    assert document.version == "2.x" and document.texts[0] == "Press Start now.\ue001"
    out = document.render(upper(document.texts))
    assert '<source>Press <pc id="1">Start</pc> now.<ph id="2"/></source>\n    <target>PRESS <pc id="1">START</pc> NOW.<ph id="2"/></target>' in out
    assert "<ignorable><source> </source></ignorable>" in out and "<target>完成。</target>" in out
    assert out.count("<target>") == 2


@pytest.mark.parametrize("text, message", [
    ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<xliff version="1.2"/>', "app.xlf:2: a DTD or entity declaration"),
    ('<xliff version="1.2">\n<file><body><trans-unit id="1"><source>a</trans-unit>', "app.xlf:2: not well-formed XML"),
    ("<tmx version=\"1.4\"><body/></tmx>", "app.xlf:1: <tmx> is not XLIFF 1.x or 2.x"),
    ('<xliff version="3.0"/>', "app.xlf:1: <xliff version='3.0'> is not XLIFF"),
])
def test_what_is_not_xliff_is_one_error_naming_the_file_and_line(text, message):
    with pytest.raises(XliffError, match=re.escape(message)):
        XliffDocument(text, "app.xlf")


MARKDOWN = """---
title: Getting started
tags: [guide]
---

# Install the tool #

Run `pip install seq2seq` and read
the [guide](https://example.com/docs?page=1 "Guide") **today**.

- Use *the chat* for one line.
- Keep snake_case_names as they are.

> A quoted sentence.

```python
print("never translated")
```

| Command | What it does |
|---------|--------------|
| `seq2seq-chat` | Talks with you. |

<div align="center">Kept HTML</div>

[guide]: https://example.com/docs

Setext heading
--------------
"""


def test_markdown_prose_is_translated_and_code_links_front_matter_and_tables_keep_their_shape():
    document = MarkdownDocument(MARKDOWN)
    out = document.render(upper(document.texts))
    assert out.startswith("---\ntitle: Getting started\ntags: [guide]\n---\n\n# INSTALL THE TOOL #\n")
    assert 'RUN `pip install seq2seq` AND READ THE [GUIDE](https://example.com/docs?page=1 "Guide") **TODAY**.\n\n' in out
    assert "- USE *THE CHAT* FOR ONE LINE.\n- KEEP SNAKE_CASE_NAMES AS THEY ARE.\n" in out
    assert "> A QUOTED SENTENCE.\n" in out
    assert '```python\nprint("never translated")\n```\n' in out
    assert "| COMMAND | WHAT IT DOES |\n|---------|--------------|\n| `seq2seq-chat` | TALKS WITH YOU. |\n" in out
    assert '<div align="center">Kept HTML</div>\n\n[guide]: https://example.com/docs\n' in out
    assert out.endswith("SETEXT HEADING\n--------------\n")


def test_markdown_untouched_by_an_identity_translation_when_no_paragraph_is_wrapped():
    text = MARKDOWN.replace("and read\nthe", "and read the") + "No newline at the end"
    document = MarkdownDocument(text)
    assert document.render(list(document.texts)) == text


def test_each_format_through_batch_uses_the_memory_first(monkeypatch, tmp_path):
    memory = TranslationMemory(tmp_path / "m.sqlite")
    memory.correct("en-zh", "Open the file.", "打开文件。")
    models = fake_models(memory=memory)
    monkeypatch.setattr(batch.Models, "for_session", classmethod(lambda cls, *a, **k: models))
    cases = {  # (the stand-in reverses each sentence; inline code comes back as written)
        "app.xlf": (XLIFF_12, '<target state="translated">打开文件。</target>', '<target state="needs-review-translation">.selif'),
        "guide.md": ("Open the file.\n\nRead `this` now.\n", "打开文件。\n", ".won `this` daeR\n"),
    }
    for name, (text, remembered, translated) in cases.items():
        source, out = tmp_path / name, tmp_path / f"out-{name}"
        source.write_text(text, encoding="utf-8")
        assert batch.main([str(source), "-o", str(out), "--quiet"]) == 0
        written = out.read_text(encoding="utf-8")
        assert remembered in written and translated in written
