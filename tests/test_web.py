"""The web page of seq2seq-serve in a real browser: Debian's chromium, headless, driven by
Playwright, against the real server (a process of its own) with real toy models of both
directions, English → Chinese and Chinese → English. Each test writes a screenshot of the state
it checks into its pytest tmp folder."""

from __future__ import annotations

import io
import json
import re
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.test_serve import Server

CHROMIUM = Path("/usr/bin/chromium")
HAN = re.compile(r"[\u4e00-\u9fff]")
KEY = "web-key-1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no chromium at {CHROMIUM} (Debian's package; .ci/run installs it)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, toy_subword_run, toy_subword_zh_en_run):
    """Both directions, under the shipped models' names, behind one key."""
    root = tmp_path_factory.mktemp("web-checkpoints")
    shutil.copytree(toy_subword_run.path, root / "default")
    shutil.copytree(toy_subword_zh_en_run.path, root / "default-zh-en")
    for name, thresholds in (("default", {"low": 1.0, "high": 2.0}), ("default-zh-en", {"low": -1e9, "high": -1e9})):
        decoding = root / name / "decoding.json"  # (every en→zh line low, every zh→en line high: what the page shows)
        settings = json.loads(decoding.read_text()) if decoding.exists() else {}
        decoding.write_text(json.dumps({**settings, "confidence": thresholds}))
    keys = root / "keys.txt"
    keys.write_text(KEY + "\n")
    running = Server(None, "--api-keys", keys, "--memory", root / "memory.sqlite", env={"SEQ2SEQ_CHECKPOINTS": str(root)})
    running.root = root
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            accept_downloads=True, viewport={"width": 1200, "height": 900},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    """The page, loaded, with every request it makes and every console error recorded."""
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(server.base + "/")
    page.wait_for_selector(".card")
    yield page
    page.close()


def translate(page, text: str) -> str:
    """Type `text` as a person would and wait for its translation."""
    page.fill("#input", "")
    page.fill("#api-key", KEY)
    page.click("#input")
    page.keyboard.type(text, delay=20)
    page.wait_for_function("text => document.body.dataset.translated === text || !document.getElementById('error').hidden", arg=text)
    assert page.is_hidden("#error"), page.inner_text("#error")
    return page.input_value("#output")


def test_the_page_loads_and_nothing_leaves_this_machine(page, server, tmp_path):
    page.wait_for_selector("svg.curve")
    page.screenshot(path=tmp_path / "loaded.png", full_page=True)
    assert page.requests and all(url.startswith(server.base + "/") or url.startswith(("data:", "blob:")) for url in page.requests), page.requests
    assert page.locator(".card").count() == 2 and page.is_visible("#api-key")  # both models; the key field, since keys are required
    assert page.locator(".card h3").all_inner_texts() == ["en→zh: default", "zh→en: default-zh-en"]
    # every control has a label, and Tab walks them in reading order
    assert page.evaluate("[...document.querySelectorAll('input, select, textarea')].every(e => e.labels.length > 0)")
    page.click("h1")  # (moves the start of Tab navigation to the top)
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["api-key", "source", "swap", "target", "input"]
    assert not page.errors, page.errors


def test_typing_english_shows_chinese_and_chinese_shows_english(page, tmp_path):
    chinese = translate(page, "Tom likes tea.")
    assert HAN.search(chinese) and page.inner_text("#direction") == "en→zh", chinese
    page.screenshot(path=tmp_path / "en-zh.png")
    assert page.inner_text("#confidence") == "low confidence (check it)"
    english = translate(page, "汤姆喜欢茶。")
    assert re.search(r"[A-Za-z]", english) and not HAN.search(english) and page.inner_text("#direction") == "zh→en", english
    assert page.inner_text("#confidence") == "high confidence"
    page.screenshot(path=tmp_path / "zh-en.png")
    page.click("#swap")  # the English goes back in, to be translated into Chinese
    page.wait_for_function("text => document.body.dataset.translated === text", arg=english)
    assert page.inner_text("#direction") == "en→zh" and HAN.search(page.input_value("#output"))
    page.screenshot(path=tmp_path / "swapped.png")


def test_alternatives_and_the_heatmap_one_row_per_output_token(page, server, tmp_path):
    page.check("#want-alternatives")
    page.check("#want-attention")
    translate(page, "Mary has 3 cats.")
    page.wait_for_selector("table.heatmap")
    body = json.dumps({"q": ["Mary has 3 cats."], "source": "en", "target": "zh", "attention": True, "api_key": KEY}).encode()
    request = urllib.request.Request(server.base + "/translate", data=body, headers={"Content-Type": "application/json"})
    maps = json.loads(urllib.request.urlopen(request, timeout=60).read())["attention"][0]
    tables = page.locator("table.heatmap")
    assert tables.count() == len(maps) >= 1
    for i, heatmap in enumerate(maps):
        assert tables.nth(i).locator("tbody tr").count() == len(heatmap["target"])  # output tokens and </s>
        assert tables.nth(i).locator("thead th").count() == len(heatmap["source"]) + 1
    page.hover("table.heatmap tbody tr:first-child td:first-of-type")
    assert "→" in page.inner_text("#weight")
    assert page.locator("#alternatives li .score").count() >= 1
    page.screenshot(path=tmp_path / "heatmap.png", full_page=True)


def test_a_file_comes_back_with_one_line_per_input_line(page, tmp_path):
    lines = ["Tom likes tea.", "", "汤姆喜欢茶。", "Mary has 3 cats.", "I want books."]
    source = tmp_path / "notes.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.fill("#api-key", KEY)
    with page.expect_download() as download:
        page.set_input_files("#file", str(source))
    translated = Path(download.value.path()).read_text(encoding="utf-8").split("\n")
    assert len(translated) == len(lines) + 1 and translated[-1] == "" and translated[1] == ""
    assert HAN.search(translated[0]) and not HAN.search(translated[2]) and HAN.search(translated[3])
    assert download.value.suggested_filename == "notes.translated.txt"
    assert page.is_visible("#download") and page.evaluate("document.getElementById('progress').value") == 4
    page.screenshot(path=tmp_path / "file.png", full_page=True)

    # a subtitle file dropped on the box: timings kept, each cue translated
    subtitles = "1\n00:00:01,000 --> 00:00:02,500\nTom likes tea.\n\n2\n00:00:03,000 --> 00:00:04,000\nMary has 3 cats.\n\n"
    with page.expect_download() as download:
        page.evaluate(
            """text => {
                const data = new DataTransfer();
                data.items.add(new File([text], 'film.srt', {type: 'application/x-subrip'}));
                document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
            }""",
            subtitles,
        )
    dropped = Path(download.value.path()).read_text(encoding="utf-8").split("\n")
    assert [line for line in dropped if "-->" in line] == ["00:00:01,000 --> 00:00:02,500", "00:00:03,000 --> 00:00:04,000"]
    assert len(dropped) == len(subtitles.split("\n")) and HAN.search(dropped[2]) and download.value.suggested_filename == "film.zh.srt"


def test_a_file_the_server_refuses_is_named_once(page, tmp_path):
    source = tmp_path / "x.exe"
    source.write_bytes(b"MZ")
    page.fill("#api-key", KEY)
    page.set_input_files("#file", str(source))
    page.wait_for_selector("#error:not([hidden])")
    shown = page.inner_text("#error")
    assert "not a file this server translates" in shown and shown.count("x.exe") == 1, shown


def test_a_wrong_api_key_shows_the_error(page, tmp_path):
    page.fill("#api-key", "not-the-key")
    page.click("#input")
    page.keyboard.type("Tom likes tea.")
    page.wait_for_selector("#error:not([hidden])")
    assert "Invalid API key" in page.inner_text("#error")
    page.screenshot(path=tmp_path / "wrong-key.png")
    page.fill("#api-key", KEY)
    page.dispatch_event("#api-key", "change")
    page.wait_for_function("text => document.body.dataset.translated === text", arg="Tom likes tea.")
    assert page.is_hidden("#error") and HAN.search(page.input_value("#output"))  # the right key: the error goes


def test_it_fits_a_phone_and_200_percent_zoom(browser, server, tmp_path):
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": 360, "height": 740})  # a phone, or 720 px of window at 200%
        page.goto(server.base + "/")
        page.wait_for_selector(".card")
        page.screenshot(path=tmp_path / "phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        page.close()


def test_a_correction_in_the_chat_is_served_by_batch_api_and_page_and_the_page_saves_its_own(page, server, tmp_path):
    """The translation memory's round trip, every tool on one memory file (the server's)."""
    from engine.memory.store import TranslationMemory
    from engine.text.direction import EN_ZH
    from repl.chat import Chat
    from repl.models import Models, resolve_run
    from tests.conftest import run_script
    from tests.test_serve import call

    memory_file, model = server.root / "memory.sqlite", server.root / "default"
    # (the chat's own commands, without its prompt: Playwright's loop runs in this thread; tests/test_memory.py types them)
    chat = Chat(Models.single(resolve_run(str(model)), memory=TranslationMemory(memory_file)), out=io.StringIO(), interactive=False)
    try:
        chat.translate_lines(["Tom likes tea."])
        assert chat.command("/fix 汤姆很喜欢喝茶。")
        chat.translate_lines(["Tom likes tea."])
    finally:
        chat.close()
    assert chat.out.getvalue().splitlines()[1] == "汤姆很喜欢喝茶。"  # the chat itself, next time
    source = tmp_path / "in.txt"
    source.write_text("Tom likes tea.\n", encoding="utf-8")
    result = run_script("seq2seq-batch", source, "--model", model, "--memory", memory_file, "--format", "jsonl")
    row = json.loads(result.stdout)
    assert result.returncode == 0 and row["translation"] == "汤姆很喜欢喝茶。" and row["memory"]["match"] == 100
    status, body = call(server.base, "/translate", {"q": "Tom likes tea.", "source": "en", "target": "zh", "api_key": KEY})
    assert status == 200 and body["translatedText"] == "汤姆很喜欢喝茶。" and body["memory"]["origin"] == "correction"
    assert translate(page, "Tom likes tea.") == "汤姆很喜欢喝茶。"
    assert "from your translation memory" in page.inner_text("#memory")
    page.screenshot(path=tmp_path / "from-memory.png")
    # a correction made in the page: edit the translation, save, and it is served from then on
    machine = translate(page, "Mary likes tea.")
    assert page.is_disabled("#save")
    page.fill("#output", "玛丽很爱喝茶。")
    page.click("#save")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('saved 1 correction')")  # (a function: the page's CSP forbids eval)
    [match] = TranslationMemory(memory_file).lookup(EN_ZH, ["Mary likes tea."])
    assert match.exact and match.entry.target == "玛丽很爱喝茶。" != machine
    page.evaluate("delete document.body.dataset.translated")  # (so the next wait is for a new answer)
    assert translate(page, "Mary likes tea.") == "玛丽很爱喝茶。"
    assert not page.errors, page.errors
