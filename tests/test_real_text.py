"""Real text, as a new user types or pastes it (issue #31): prices, percentages, phone numbers,
dates, times, versions, URLs with queries, e-mail addresses, paths, abbreviations, emoji, Chinese
person and place names, inline tags. Each span must come out exactly once, intact and apart from
its neighbours; tags must wrap words.

Fast tier: the real text pipeline with a 'model' that copies what it reads (placeholders
included), so what the pipeline does is checked apart from what a model does. Slow tier: the
shipped models, in the translator every tool uses (chat, batch, API and page all call it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.text.conversions import english_to_chinese
from engine.text.htmldoc import HtmlDocument
from engine.text.normalise import chinese_punctuation
from engine.text.pipeline import TextPipeline

ROOT = Path(__file__).resolve().parent.parent

# (line, the spans that must each come out once, whole)
ENGLISH = [
    ("It costs $3.50, about 15% more than last year.", ["3.50", "15"]),
    ("Call +86 10 1234 5678 or mail tom.lee@example.com today.", ["+86 10 1234 5678", "tom.lee@example.com"]),
    ("Version 3, 29 June 2007", ["3", "2007年6月29日"]),
    ("The meeting is at 9:30 on 2026-12-06.", ["9:30", "2026-12-06"]),
    ("See https://www.example.com/news?id=42&lang=en for details.", ["https://www.example.com/news?id=42&lang=en"]),
    ("Edit /etc/hosts and C:\\Windows\\hosts, e.g. with vim.", ["例如"]),
    ("- all functions from posix or nt, e.g. unlink, stat, etc.", ["例如", "等等"]),
    ("Python 3.12 was released on October 2, 2023.", ["3.12", "2023年10月2日"]),
    ("I paid 1,200 yuan for 3 tickets 🎉.", ["1,200", "3", "🎉"]),
    ("Great job 👍🏽 see you ❤️ soon.", ["👍🏽", "❤️"]),
    ("Room 101, 2nd floor; call 555-0199.", ["101", "555-0199"]),
    ("Order #A-77 ships in 3-5 days.", ["3-5"]),
    ("Mr. Smith met Dr. Jones at 10:15.", ["10:15"]),
    ("The shop opens at 9 am and closes at 5:30 p.m. on Sundays.", ["上午9点", "下午5点30分"]),
    ("Hello %s, you have %d new messages.", ["%s", "%d"]),  # a program's format placeholders (gettext catalogues)
    ("%(count)d files were saved in {folder}.", ["%(count)d", "{folder}"]),
    ("Total: {total:.2f} for {0} items, 50% off.", ["{total:.2f}", "{0}", "50"]),
]
CHINESE = [
    ("圆周率大约是3.14，会议定在2026-12-06上午9:30举行。", ["3.14", "2026-12-06", "9:30"]),
    ("详细信息请访问 https://www.example.com/news?id=42 。", ["https://www.example.com/news?id=42"]),
    ("李明和王芳上个月在上海结婚了。", ["Li Ming", "Wang Fang", "Shanghai"]),
    ("他2007年6月29日出生。", ["June 29, 2007"]),
    ("陈小红在北京大学学习。", ["Chen Xiaohong"]),
    ("这件衣服打八五折，只要199元！", ["199"]),
    ("请发邮件到 help@example.cn 或拨打 400-123-4567。", ["help@example.cn", "400-123-4567"]),
    ("王伟明天来北京。", ["Wang Wei", "Beijing"]),
    ("欧阳娜娜和刘德华都是歌手。", ["Ouyang Nana", "Andy Lau"]),
    ("我用 Python 3.12 写程序。", ["Python", "3.12"]),
    ("张伟昨天给王老师和李小姐发了邮件。", ["Zhang Wei", "Teacher Wang", "Miss Li"]),  # (张 the commonest surname; titles)
    ("我们公司在深圳、杭州、西安和成都都有办公室。", ["Shenzhen", "Hangzhou", "Xi'an", "Chengdu"]),  # (CC-CEDICT: "… subprovincial city")
]


@pytest.mark.parametrize("text, converted", [
    ("We met at 8 a.m. every day.", [("8 a.m.", "上午8点")]),
    ("It ended at 4:00 p.m.", [("4:00 p.m", "下午4点")]),  # (the sentence's full stop stays for the model)
    ("From 9 AM to 11 PM, then 12 pm and 12 a.m.", [("9 AM", "上午9点"), ("11 PM", "晚上11点"), ("12 pm", "中午12点"), ("12 a.m", "午夜12点")]),
    ("Up at 5am, Oct 3.", [("5am", "凌晨5点"), ("Oct 3", "10月3日")]),
    ("Open 9-11 am, 9:30 to 11 a.m. or 12:30 am? (Or 7 a.m.)", [
        ("9-11 am", "上午9点到11点"), ("9:30 to 11 a.m.", "上午9点30分到11点"), ("12:30 am", "凌晨0点30分"), ("7 a.m.", "上午7点")]),
    ("From 11-12 am, or 11 to 1 pm, or 5-7 pm.", [("11-12 am", "上午11点到午夜12点"), ("11 to 1 pm", "上午11点到下午1点"), ("5-7 pm", "下午5点到晚上7点")]),
    ("At 13 pm, I am 5. Scan 7 mm, 09:75 pm.", []),  # (no such hour or minute; not a time)
])
def test_english_clock_times_become_chinese_ones(text, converted):
    assert [(text[a:b], chinese) for a, b, chinese in english_to_chinese(text)] == converted


def test_a_title_before_a_name_is_written_after_it_the_chinese_way_where_the_model_does_not_know_one_of_them():
    known = lambda word: word in ("Smith", "Tom", "Priya", "Mr", "Mrs", "Miss")  # noqa: E731
    text = "Ms. Priya Kaur met Dr. O'Brien, Prof Müller, Mrs. Smith-Jones, Dr. Smith and Mr. Smith at Tom's."
    converted = english_to_chinese(text, known=known, in_chinese={"Smith": "斯密"}.get)
    assert [(text[a:b], chinese) for a, b, chinese in converted] == [
        ("Ms. Priya Kaur", "Priya Kaur女士"), ("Dr. O'Brien", "O'Brien博士"), ("Prof Müller", "Müller教授"),
        ("Mrs. Smith-Jones", "Smith-Jones太太"), ("Dr. Smith", "斯密博士"),  # (not Mr. Smith: the model knows both, 史密斯先生)
    ]
    assert english_to_chinese(text) == []  # (no vocabulary to ask: the model's)


def test_a_chinese_city_the_model_does_not_know_is_written_in_chinese_and_an_ambiguous_one_is_not():
    from engine.text.names import chinese_places

    places = chinese_places()
    assert (places.get("Shenzhen"), places.get("Hangzhou"), places.get("Xi'an"), places.get("Suzhou")) == ("深圳", "杭州", "西安", None)
    text = "We fly from Shenzhen to Suzhou via Shanghai."
    converted = english_to_chinese(text, known=lambda word: word in ("We", "Shanghai"), place=places.get)
    assert [(text[a:b], chinese) for a, b, chinese in converted] == [("Shenzhen", "深圳")]


def test_a_multi_word_name_is_one_span_and_a_currency_sign_goes_with_its_number():
    from engine.text.protect import protect

    result = protect("Zhang Wei paid €1,250 and ¥9,800 to Ethan Hunt.", known=lambda w: w.lower() in ("paid", "and", "to"))
    assert result.text == "⟦W1⟧ paid ⟦N1⟧ and ⟦N2⟧ to ⟦W2⟧."
    assert result.spans == {"⟦W1⟧": "Zhang Wei", "⟦N1⟧": "€1,250", "⟦N2⟧": "¥9,800", "⟦W2⟧": "Ethan Hunt"}


def test_a_url_stops_before_the_chinese_after_it_and_is_kept_apart_from_chinese_in_a_translation():
    from engine.text.protect import protect

    assert protect("请访问 https://a.example/s?q=tea了解详情。", chinese_source=True).spans == {"⟦W1⟧": "https://a.example/s?q=tea"}
    pipeline = TextPipeline(legacy=False, chinese_source=False, chinese_target=True, knows=lambda word: True)
    unit = pipeline.prepare(["Visit https://a.example/s?q=1 or mail me@x.org now."])[0]
    assert pipeline.finish(unit, "访问⟦W1⟧或给⟦W2⟧发邮件。") == "访问 https://a.example/s?q=1 或给 me@x.org 发邮件。"
    assert pipeline.finish(unit, "⟦W1⟧⟦W2⟧。") == "https://a.example/s?q=1 me@x.org。"  # (two spans never touch)


def test_ascii_punctuation_the_model_writes_beside_a_placeholder_is_chinese_in_a_chinese_translation():
    assert chinese_punctuation("⟦W1⟧,请坐下。你认识⟦W2⟧?") == "⟦W1⟧，请坐下。你认识⟦W2⟧？"
    assert chinese_punctuation("共1,000元, 在⟦N1⟧:30, ⟦N1⟧:⟦N2⟧") == "共1,000元，在⟦N1⟧:30, ⟦N1⟧:⟦N2⟧"  # (times are no punctuation)
    pipeline = TextPipeline(legacy=False, chinese_source=False, chinese_target=True, knows=lambda word: word != "Kaur")
    unit = pipeline.prepare(["Kaur, please visit https://a.b/?q=1, now!"])[0]
    assert pipeline.finish(unit, "⟦W1⟧,请现在访问⟦W2⟧!") == "Kaur，请现在访问 https://a.b/?q=1！"


def echo(lines: list[str], chinese_source: bool) -> list[str]:
    pipeline = TextPipeline(legacy=False, chinese_source=chinese_source, chinese_target=not chinese_source, knows=lambda w: True)
    units = pipeline.prepare(lines, names=True)
    out = [[] for _ in lines]
    for unit in units:
        out[unit.line].append(pipeline.finish(unit, unit.text))
    return [pipeline.join(parts) for parts in out]


def apart(span: str, text: str) -> bool:
    """The span stands once in `text`, not glued to a letter or digit of a neighbour."""
    found = [m for m in re.finditer(re.escape(span), text)]
    if len(found) != 1:
        return False
    start, end = found[0].span()
    glued = lambda a, b: a.isascii() and b.isascii() and a.isalnum() and b.isalnum()  # noqa: E731
    return not (start and glued(text[start - 1], span[0])) and not (end < len(text) and glued(span[-1], text[end]))


@pytest.mark.parametrize("line, spans, chinese", [(*case, False) for case in ENGLISH] + [(*case, True) for case in CHINESE])
def test_spans_and_names_come_through_once_intact_and_apart(line, spans, chinese):
    out = echo([line], chinese_source=chinese)[0]
    for span in spans:
        assert apart(span, out), (span, out)
    assert "⟦" not in out


def test_a_url_with_a_query_is_not_cut_into_sentences():
    from engine.text.segment import split_sentences

    assert split_sentences("详细信息请访问 https://www.example.com/news?id=42 。再见！") == [
        "详细信息请访问 https://www.example.com/news?id=42 。", "再见！"]
    assert split_sentences("Is it https://a.example/?q=1? Yes! See a.b@c.org.") == ["Is it https://a.example/?q=1?", "Yes!", "See a.b@c.org."]


def test_ordinary_words_are_not_taken_for_names():
    from engine.text.names import shipped

    for text in ("我很高兴见到你。", "他马上就来。", "王子和公主", "白天很热。", "床上有多少张毯子？", "中国人喜欢吃饭。",
                 "给我一张纸。", "这张票很贵。", "他张开嘴。", "我想买张票。", "这周老师不在。", "他完成都很快。", "我们身上都是水。",
                 "他很紧张。"):
        assert shipped().find(text) == [], text


def test_inline_tags_wrap_the_words_they_covered():
    """With a 'translation' that keeps words (upper case), each tag wraps the same words."""
    for document, expected in [
        ('<p>Tom lives in <b>Toronto</b>.</p>', '<p>TOM LIVES IN <b>TORONTO</b>.</p>'),
        ('<p>I like <b>fresh bread</b> very much.</p>', '<p>I LIKE <b>FRESH BREAD</b> VERY MUCH.</p>'),
        ('<p>Click <a href="/news?id=1&amp;x=2">here</a> or <i>there</i>.</p>', '<p>CLICK <a href="/news?id=1&amp;x=2">HERE</a> OR <i>THERE</i>.</p>'),
        ('<p>Run <code>ls -l</code> now.</p>', '<p>RUN <code>ls -l</code> NOW.</p>'),
        ('<p><font color="red">Wait</font> for <em>me</em>!</p>', '<p><font color="red">WAIT</font> FOR <em>ME</em>!</p>'),
    ]:
        doc = HtmlDocument(document)
        assert doc.render([t.upper() for t in doc.texts]) == expected


def test_a_tag_whose_words_cannot_be_found_wraps_the_sentence_and_is_never_lost():
    doc = HtmlDocument('<p>I like <b>fresh bread</b> very much.</p>')
    out = doc.render(["我非常喜欢新鲜面包。", "包子包子新鲜"])  # (the fragment alone looped: not found)
    assert out == "<p><b>我非常喜欢新鲜面包。</b></p>"


def test_a_tag_whose_translation_loops_goes_around_its_start():
    doc = HtmlDocument('<p>I like <b>fresh bread</b> very much.</p>')
    assert doc.render(["我非常喜欢新鲜面包。", "新鲜面包包面包包"]) == "<p>我非常喜欢<b>新鲜面包</b>。</p>"
    english = HtmlDocument("<p>我住在<b>波士顿</b>。</p>")  # (Latin script: whole words only)
    assert english.render(["I live in Boston.", "Boston Bostonian"]) == "<p>I live in <b>Boston</b>.</p>"
    assert english.render(["I live in Bost.", "Boston"]) == "<p><b>I live in Bost.</b></p>"


# ----------------------------------------------------------------------------------------------
# The shipped models


@pytest.fixture(scope="module")
def translators():
    from repl.console import import_tensorflow

    import_tensorflow()
    from engine.decoding.translate import Translator
    from engine.runs import RunFolder

    return {name: Translator(RunFolder(ROOT / "checkpoints" / name), graphs="dynamic", warn=lambda m: None)
            for name in ("default", "default-zh-en")}


@pytest.mark.slow
def test_the_shipped_models_keep_every_span_once_and_apart(translators):
    from engine.config import DecodeOptions

    for name, cases in (("default", ENGLISH), ("default-zh-en", CHINESE)):
        results = translators[name].translate([line for line, _ in cases], options=DecodeOptions())
        for (line, spans), result in zip(cases, results):
            for span in spans:
                assert apart(span, result.text), (line, span, result.text)


# Names beside names, at the start and the end, two unknown names in a line (issue #32): each
# unknown name once and whole, a known name written as a whole (彼得, never 彼Cairo得).
NAMED = [
    ("Peter and Cairo are far apart.", ["Cairo"], ["彼得"]),
    ("I met Peter and Cairo yesterday.", ["Cairo"], ["彼得"]),
    ("Tell Peter that Ravi is here.", ["Ravi"], ["彼得"]),
    ("Cairo is a big city.", ["Cairo"], []),
    ("We flew from Lima to Cairo.", ["Lima", "Cairo"], []),
    ("Jennifer and Ethan went to Bilbao.", ["Jennifer", "Ethan", "Bilbao"], []),
    ("Olga met Dmitri in Tbilisi.", ["Olga", "Dmitri", "Tbilisi"], []),
    ("I saw Ravi and Priya at the station with Peter.", ["Ravi", "Priya"], ["彼得"]),
]


@pytest.mark.slow
def test_names_beside_names_each_come_out_once_and_whole(translators):
    from engine.config import DecodeOptions

    for options in (DecodeOptions(), DecodeOptions(beam=1)):
        results = translators["default"].translate([line for line, _, _ in NAMED], options=options)
        for (line, carried, written), result in zip(NAMED, results):
            for name in carried:
                assert result.text.count(name) == 1, (line, result.text)
            for name in written:
                assert name in result.text, (line, result.text)
            assert "⟦" not in result.text


@pytest.mark.slow
def test_the_search_writes_a_placeholder_once_and_only_one_the_source_has(translators):
    translator = translators["default"]
    for result in translator.translate(["I met Peter and Cairo yesterday.", "Ravi called Ravi.", "Olga met Dmitri in Tbilisi."], beam=4):  # (no guard)
        placeholders = re.findall(r"⟦[NW]\d⟧", "".join(result.tokens))
        assert len(placeholders) == len(set(placeholders)), result.tokens
        assert set(placeholders) <= set(re.findall(r"⟦[NW]\d⟧", "".join(result.source_tokens)))


@pytest.mark.slow
def test_a_carried_word_or_glossary_term_is_not_followed_by_what_came_before_it(translators):
    """`I write Python every day.` came out as 我每天写Python每天。 (engine/decoding/echo.py)."""
    from engine.config import DecodeOptions
    from engine.text.glossary import Glossary

    translator = translators["default"]
    for glossary, term in ((None, "Python"), (Glossary({"Python": "蟒蛇语言"}), "蟒蛇语言")):
        result = translator.translate(["I write Python every day."], options=DecodeOptions(), glossary=glossary)[0]
        assert result.text.count(term) == 1 and result.text.count("每天") == 1, result.text


@pytest.mark.slow
def test_the_shipped_model_translates_a_page_sentence_whole_with_its_tags(translators):
    from engine.config import DecodeOptions
    from engine.text.glossary import Glossary

    doc = HtmlDocument('<p>Tom lives in <b>Toronto</b>.</p>')
    out = doc.render([r.text for r in translators["default"].translate(doc.texts, options=DecodeOptions(), glossary=Glossary({"Toronto": "多伦多"}))])
    assert out == "<p>汤姆住在<b>多伦多</b>。</p>"


def test_a_form_body_of_raw_utf8_is_read_as_libretranslate_reads_it():
    """`curl -d 'q=你好吗&source=auto&target=en'` sends the Chinese as raw UTF-8 bytes."""
    from starlette.testclient import TestClient

    from tests.test_serve import app_of

    form = {"content-type": "application/x-www-form-urlencoded"}
    with TestClient(app_of(pairs=(("zh", "en"), ("en", "zh")))) as client:
        answer = client.post("/translate", content="q=你好吗&source=auto&target=en".encode(), headers=form).json()
        assert answer["translatedText"] == "吗好你" and answer["detectedLanguage"]["language"] == "zh"
        assert client.post("/detect", content="q=你好吗".encode(), headers=form).json() == [{"language": "zh", "confidence": 100.0}]
        assert client.post("/translate", content=b"q=%E4%BD%A0%E5%A5%BD&q=ok&source=zh&target=en", headers=form).json() == {
            "translatedText": ["好你", "ok"]}
        refused = client.post("/translate", content=b"q=\xff&source=zh", headers=form)
        assert refused.status_code == 400 and "not UTF-8" in refused.json()["error"]
