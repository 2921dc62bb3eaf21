"""The text pipeline without a model: normalisation, sentences, protected spans, glossaries,
HTML and subtitles, and which script a line is in."""

import random

import pytest

from engine.text.formats import FormatError, tag_sequence, translate_html, translate_srt
from engine.text.glossary import Glossary, GlossaryError
from engine.text.normalise import fold_case, normalise
from engine.text.protect import PLACEHOLDERS, protect, restore
from engine.text.script import script_of
from engine.text.segment import join_sentences, split_sentences
from engine.text.shared_spans import protect_pair


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("don’t", "don't"),
        ("“Hello,” she said.", '"Hello," she said.'),
        ("ＡＢＣ１２３", "ABC123"),
        ("今天是６月１８号，也是Muiriel的生日！", "今天是6月18号，也是Muiriel的生日！"),
        ("你好,世界!你是谁?", "你好，世界！你是谁？"),
        ("他说……", "他说……"),
        ("他是一个 DJ 。", "他是一个DJ。"),
        ("  many   spaces\there ", "many spaces here"),
        ("It costs 3,000 dollars at 7:45.", "It costs 3,000 dollars at 7:45."),
        ("我7:45到。", "我7:45到。"),
    ],
)
def test_normalise_folds_compatibility_forms_and_keeps_chinese_punctuation(raw, expected):
    assert normalise(raw) == expected


def test_normalising_twice_changes_nothing():
    for text in ["Don’t stop!", "你好，世界！（我）：；", "“你来了。”他说。", "ＡＢＣ 123"]:
        assert normalise(normalise(text)) == normalise(text)


def test_case_folds_but_placeholders_keep_their_letters():
    assert fold_case("And Tom met ⟦W1⟧ at ⟦N2⟧.") == "and tom met ⟦W1⟧ at ⟦N2⟧."


def test_english_sentences_know_abbreviations_and_decimals():
    text = "Mr. Smith paid $3.50 at 7:45 a.m. today. Really?! Yes."
    assert split_sentences(text) == ["Mr. Smith paid $3.50 at 7:45 a.m. today.", "Really?!", "Yes."]
    assert split_sentences("It is 3.5 km.") == ["It is 3.5 km."]
    assert split_sentences("   ") == []


def test_chinese_sentences_keep_their_closing_quotes():
    text = "我今天早上起晚了。我错过了公交车！老师很生气？“你来了。”他说。“好。”“再见。”"
    assert split_sentences(text) == ["我今天早上起晚了。", "我错过了公交车！", "老师很生气？", "“你来了。”他说。", "“好。”", "“再见。”"]


def test_sentences_rejoin_with_the_target_languages_spacing():
    assert join_sentences(["我饿了。", "你呢？"], chinese=True) == "我饿了。你呢？"
    assert join_sentences(["I'm hungry.", "And you?"], chinese=False) == "I'm hungry. And you?"


KNOWN = {"i", "was", "born", "in", "call", "me", "at", "tom", "met", "it", "costs", "dollars", "wants", "to", "visit", "next", "summer",
         "son", "and"}


def known(word):
    return word.lower() in KNOWN


@pytest.mark.parametrize(
    "text, protected, spans",
    [
        ("I was born in 1987.", "I was born in ⟦N1⟧.", {"⟦N1⟧": "1987"}),
        ("Call me at 555-1234.", "Call me at ⟦N1⟧.", {"⟦N1⟧": "555-1234"}),
        ("It costs 3,000 dollars.", "It costs ⟦N1⟧ dollars.", {"⟦N1⟧": "3,000"}),
        ("Tom met Ethan in Toronto at 7:45.", "Tom met ⟦W1⟧ in ⟦W2⟧ at ⟦N1⟧.", {"⟦W1⟧": "Ethan", "⟦W2⟧": "Toronto", "⟦N1⟧": "7:45"}),
        ("Visit https://example.com/a?b=1 or me@example.org.", "Visit ⟦W1⟧ or ⟦W2⟧.", {"⟦W1⟧": "https://example.com/a?b=1", "⟦W2⟧": "me@example.org"}),
        # a possessive: the name is carried without its 's (Kowalski's的车 was written), a known name's stays
        ("Tom met Kowalski's son and Tom's.", "Tom met ⟦W1⟧'s son and Tom's.", {"⟦W1⟧": "Kowalski"}),
    ],
)
def test_numbers_urls_and_unknown_names_become_placeholders(text, protected, spans):
    result = protect(text, known=lambda w: known(w) or w in ("Visit", "or"))
    assert (result.text, result.spans) == (protected, spans)


def test_latin_words_in_chinese_are_kept_as_one_span_per_run():
    result = protect("我喜欢 Python programming 和 music。我是1990年出生的。", chinese_source=True)
    assert result.text == "我喜欢 ⟦W1⟧ 和 ⟦W2⟧。我是⟦N1⟧年出生的。"
    assert result.spans == {"⟦W1⟧": "Python programming", "⟦W2⟧": "music", "⟦N1⟧": "1990"}


def test_a_line_of_only_spans_has_nothing_to_translate():
    assert protect("42", known=known).only_spans
    assert protect("https://example.com", known=known).only_spans
    assert protect("Jennifer", known=known).only_spans
    assert not protect("Tom", known=known).only_spans  # a known name is translated


def test_restore_puts_every_span_back_once_and_drops_strangers():
    protected = protect("Jennifer was born in 1987.", known=known)
    assert restore("⟦W1⟧出生于⟦N1⟧年。", protected) == "Jennifer出生于1987年。"
    assert restore("⟦W1⟧ was born in ⟦N1⟧⟦N1⟧⟦W5⟧.", protected) == "Jennifer was born in 1987."
    # one the model dropped goes before the final punctuation (the translator first tries the attention)
    assert restore("出生于⟦N1⟧年。", protected) == "出生于1987年Jennifer。"


def test_training_pairs_share_placeholders_for_spans_on_both_sides():
    rng = random.Random(0)
    source, target = protect_pair("Tom swam 30 laps.", "Tom游了30圈。", False, {}, rng)
    assert source.replace("⟦", "[").count("[") == 2 and source.split()[0] in PLACEHOLDERS
    assert target.startswith(source.split()[0]) and "30" not in target
    # a name with one fixed translation becomes a placeholder on both sides when drawn
    source, target = protect_pair("Tom is here.", "汤姆在这儿。", False, {"Tom": "汤姆"}, rng, name_share=1.0)
    placeholder = source.split()[0]
    assert placeholder in PLACEHOLDERS and target.startswith(placeholder)
    # Chinese first: the same, the other way round
    source, target = protect_pair("我现在30岁了。", "I'm 30 now.", True, {}, rng)
    assert "30" not in source + target and source[3:7] == target.split()[1]


def test_placeholder_numbers_vary_so_that_every_placeholder_is_learnt():
    rng = random.Random(1)
    seen = {protect_pair("I'm 30 now.", "我现在30岁了。", False, {}, rng)[0].split()[1] for _ in range(200)}
    assert len(seen) == 6


def test_glossary_terms_match_whole_words_in_any_case():
    glossary = Glossary.parse(["Acme\t", "machine learning\t机器学习", "cat\t猫咪", "# a comment", "", "北京\tPeking"], "g.tsv")
    result = protect("Acme builds Machine Learning tools for cats and a cat.", known=lambda w: True, glossary=glossary)
    assert result.text == "⟦W1⟧ builds ⟦W2⟧ tools for cats and a ⟦W3⟧."
    assert result.spans == {"⟦W1⟧": "Acme", "⟦W2⟧": "机器学习", "⟦W3⟧": "猫咪"}
    assert protect("我在北京学习。", chinese_source=True, glossary=glossary).spans == {"⟦W1⟧": "Peking"}
    assert glossary.remove("ACME") and "Acme" not in glossary.entries


@pytest.mark.parametrize(
    "lines, message",
    [(["a\tb\tc"], "g.tsv:1: expected 'term<TAB>translation', found 3 columns"), (["ok\tfine", "\tx"], "g.tsv:2: empty source term"),
     (["ok\tfine", "# note", "Python    蟒蛇"], "g.tsv:3: no TAB between the term and its translation")],
)
def test_a_bad_glossary_line_is_named(lines, message):
    with pytest.raises(GlossaryError, match=message):
        Glossary.parse(lines, "g.tsv")


def test_a_glossary_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_bytes(b"ok\tfine\nbad\xff\tx\n")
    with pytest.raises(GlossaryError, match="g.tsv:2: not valid UTF-8"):
        Glossary.load(path)


def upper(texts):
    return [t.upper() for t in texts]


def test_html_keeps_every_tag_and_translates_the_text_between():
    document = (
        '<!DOCTYPE html><html><head><title>Hi there</title><style>p{color:red}</style></head>'
        '<body><p class="x">I love you &amp; you love me.</p><img src=a.png alt="x"/>'
        '<a href="/y">Click here</a><!-- note --><pre>keep me</pre></body></html>'
    )
    out = translate_html(document, upper)
    assert tag_sequence(out) == tag_sequence(document)
    assert "I LOVE YOU &amp; YOU LOVE ME." in out and "CLICK HERE" in out
    assert "<title>Hi there</title>" in out  # a raw-text element: never translated
    assert "p{color:red}" in out and "keep me" in out and "<!-- note -->" in out


def test_unbalanced_html_loses_no_text():
    out = translate_html("<b>unclosed <i>text</p> trailing &lt;text", upper)
    assert out == "<b>UNCLOSED <i>TEXT</p> TRAILING &lt;TEXT"


SUBTITLES = """1
00:00:01,000 --> 00:00:02,500
Hello there.
How are you?

2
00:00:03,000 --> 00:00:04,000 X1:40 X2:600 Y1:20 Y2:50
Fine.

"""


def test_subtitles_keep_numbers_and_timings_and_translate_each_cue_whole():
    out = translate_srt(SUBTITLES, upper)
    assert out.splitlines()[:3] == ["1", "00:00:01,000 --> 00:00:02,500", "HELLO THERE. HOW ARE YOU?"]
    timing = [line for line in SUBTITLES.splitlines() if "-->" in line]
    assert [line for line in out.splitlines() if "-->" in line] == timing


def test_broken_subtitles_are_named_with_their_line():
    with pytest.raises(FormatError, match=r"movie.srt:\d+: not a subtitle cue"):
        translate_srt("1\n00:00:01,000 --> 00:00:02,000\nok\n\nnot a number\nnor a timing\n", upper, "movie.srt")


@pytest.mark.parametrize(
    "line, script",
    [
        ("我喜欢 Python programming 和 music。", "zh"),
        ("Jennifer是我的老师。", "zh"),
        ("I like 饺子 very much.", "en"),
        ("The word 你好 means hello.", "en"),
        ("42", None),
    ],
)
def test_a_chinese_sentence_with_english_words_in_it_is_chinese(line, script):
    assert script_of(line) == script


def test_a_dictionary_translates_a_word_the_model_never_saw():
    dictionary = {"invoice": "发票"}.get
    result = protect("Send me the invoice by Friday.", known=lambda w: w.lower() in {"send", "me", "the", "by", "friday"}, fallback=dictionary)
    assert result.text == "Send me the ⟦W1⟧ by Friday." and result.spans == {"⟦W1⟧": "发票"}
    # names are kept as written, never looked up
    assert protect("Zelda sent it.", known=lambda w: w.lower() in {"sent", "it"}, fallback=lambda w: "X").spans == {"⟦W1⟧": "Zelda"}


def test_restore_never_leaves_two_spaces_of_the_model_but_keeps_a_span_as_it_was():
    from engine.text.protect import Protected, restore

    protected = Protected("Mary sees ⟦N1⟧ apples.", {"⟦N1⟧": "1  2"})
    assert restore("Mary sees  ⟦N1⟧  apples.", protected) == "Mary sees 1  2 apples."


def test_joined_chinese_sentences_are_normalised_like_every_training_pair():
    from engine.config import RunConfig
    from engine.data.corpus import Split
    from engine.data.files import Pair
    from engine.data.prepare import text_pairs

    pairs = [Pair("我很好。", "I'm fine."), Pair("你呢？", "And you?"), Pair("谢谢。", "Thanks.")]
    config = RunConfig(corpus="toy", level="subword", join_fraction=1.0, dictionary_pairs=0, name_share=0.0)
    train, _, _ = text_pairs(config, Split(pairs, pairs[:1], []), sides=(True, False))
    joined = train[len(pairs):]
    assert len(joined) == 3 and all("。 " not in p.source and "？ " not in p.source for p in joined)
    assert all(" " in p.target for p in joined)  # (English joins with a space)
