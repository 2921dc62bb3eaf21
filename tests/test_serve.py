"""seq2seq-serve, in two tiers.

Fast (no TensorFlow, no training): the app in-process, through Starlette's TestClient or through
uvicorn in a thread on a free localhost port, over a stand-in translator that reverses strings;
these check HTTP behaviour only (routes, request shapes, errors, limits, timeouts).

Slow: the real server in a process of its own, with real toy models, spoken to over HTTP as a
LibreTranslate client would (JSON and form bodies): translation, batching, the queue, SIGTERM,
file descriptors under slow clients.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.decoding.translation import with_memory
from tests.conftest import script

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------
# Helpers: the real server in a process, HTTP calls, raw sockets


class Server:
    """`seq2seq-serve --port 0 …` in a process of its own; `base` is its address."""

    def __init__(self, model, *args, env=None, preexec_fn=None):
        model_args = ["--model", str(model)] if model is not None else []  # None: the shipped models
        self.process = subprocess.Popen(
            [script("seq2seq-serve"), *model_args, "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn,
        )
        self.lines: list[str] = []
        ready = threading.Event()

        def read():
            for line in self.process.stderr:
                self.lines.append(line)
                if "serving" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(timeout=120)
        found = re.search(r"http://127\.0\.0\.1:(\d+)", "".join(self.lines))
        assert found, "".join(self.lines)
        self.port = int(found.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def call(base, path, data=None, form=False, method=None, timeout=60, headers=None):
    """(status, parsed JSON body) of one request."""
    body, headers = None, dict(headers or {})
    if data is not None and form:
        body, headers["Content-Type"] = urllib.parse.urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    elif data is not None:
        body, headers["Content-Type"] = (data if isinstance(data, bytes) else json.dumps(data).encode()), "application/json"
    request = urllib.request.Request(base + path, data=body, headers=headers, method=method or ("POST" if body is not None else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def answer_of(sock, timeout=10.0) -> tuple[int, dict | None]:
    """(status, JSON body or None) of the answer on a raw socket (0: closed without one)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + int(re.search(rb"content-length: (\d+)", data, re.I).group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, AttributeError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return 0, None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


# ----------------------------------------------------------------------------------------------
# The fast tier: a stand-in translator (reverses each string) and the app in-process


@dataclass
class Hypothesis:
    text: str
    score: float


@dataclass
class Result:
    text: str
    score: float
    n_best: list
    tokens: list
    source_tokens: list
    parts: list = field(default_factory=list)
    src_ids: list = field(default_factory=list)
    confidence: str | None = None


class Reverser:
    """Translates by reversing each string (a glossary term: its translation, reversed in place);
    offers up to three hypotheses and a flat attention map. `calls` records (lines, options, glossary)."""

    def __init__(self, delay: float = 0.0):
        self.calls, self.delay = [], delay

    def translate(self, lines, options=None, glossary=None, pause=None, memory=None):
        return with_memory(lines, memory, lambda rest: self._reversed(rest, options, glossary))  # (the memory as the real translator has it)

    def _reversed(self, lines, options, glossary):
        self.calls.append((list(lines), options, glossary))
        time.sleep(self.delay)
        results = []
        for line in lines:
            text = line[::-1]
            for term, target in (glossary.entries.items() if glossary else ()):
                text = text.replace(term[::-1], target)
            hypotheses = [Hypothesis(text, -0.1), Hypothesis(text + "!", -0.5), Hypothesis(text + "?", -0.9)][: options.n_best]
            results.append(Result(text, -0.1, hypotheses, list(text), list(line), src_ids=[1] * len(line), confidence="low" if "?" in line else "high"))
        return results

    def attention_of(self, result):
        import numpy as np

        return np.full((len(result.tokens) + 1, len(result.source_tokens)), 1 / max(1, len(result.source_tokens)))


def app_of(pairs=(("en", "en"),), translator=None, **settings):
    from repl.serve.app import create_app
    from repl.serve.batcher import Batcher

    translator = translator or Reverser()
    return create_app({pair: Batcher(translator) for pair in pairs}, **settings)


@pytest.fixture
def client():
    from starlette.testclient import TestClient

    with TestClient(app_of()) as test_client:
        yield test_client


@contextlib.contextmanager
def served(app, **limits):
    """`app` behind the real uvicorn server with this server's limits, in a thread, on a free
    localhost port; yields the port."""
    from repl.serve.command import bind, make_server

    sock = bind("127.0.0.1", 0)
    server = make_server(app, **limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        for batcher in app.state.batchers.values():
            batcher.close()


def post(client, data, path="/translate"):
    response = client.post(path, content=data if isinstance(data, bytes) else json.dumps(data).encode(), headers={"content-type": "application/json"})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "path, data, status, message",
    [
        ("/translate", {"source": "en", "target": "en"}, 400, "missing q"),
        ("/translate", b"{not json", 400, "invalid JSON"),
        ("/translate", {"q": 5}, 400, "q must be a string"),
        ("/translate", {"q": "abc", "source": "fr", "target": "en"}, 400, "'fr' is not supported"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "format": "xml"}, 400, "format must be 'text' or 'html'"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "alternatives": "many"}, 400, "alternatives"),
        ("/translate", {"q": "a" * 5001, "source": "en", "target": "en"}, 413, "Too many characters"),
        ("/translate", {"q": ["a"] * 65, "source": "en", "target": "en"}, 413, "Too many texts"),
        ("/nowhere", None, 404, "Not found"),
        # wrong JSON types: each was a 500 with a traceback in the log (issue 21)
        ("/translate", {"q": "abc", "source": ["en"], "target": "en"}, 400, "source must be a string"),
        ("/translate", {"q": "abc", "source": "en", "target": {}}, 400, "target must be a string"),
        ("/translate", b'{"q": "abc", "source": "en", "target": "en", "alternatives": Infinity}', 400, "invalid JSON: Infinity"),
        ("/translate", b'{"q": "abc", "source": "en", "target": "en", "alternatives": 1e400}', 400, "alternatives must be a whole number"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "alternatives": True}, 400, "alternatives must be a whole number"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "api_key": [1]}, 400, "api_key must be a string"),
        ("/translate", {"q": "abc", "format": ["text"]}, 400, "format must be a string"),
        ("/translate", {"q": "abc", "attention": "yes please"}, 400, "attention must be true or false"),
        ("/translate", b'{"q": "\\ud800", "source": "en", "target": "en"}', 400, "not valid Unicode"),
        ("/translate", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        ("/translate", b'{"q": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested too deeply"),
        ("/translate", b"[1, 2]", 400, "must be an object"),
        ("/detect", {"q": {"text": "abc"}}, 400, "q must be a string"),
    ],
)
def test_bad_requests_get_a_json_error_and_no_traceback(client, capfd, path, data, status, message):
    if data is None:
        response = client.get(path)
        got, body = response.status_code, response.json()
    else:
        got, body = post(client, data, path)
    assert got == status and message in body["error"] and set(body) == {"error"}
    assert "Traceback" not in json.dumps(body) and "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data", b"q=abc"),  # no boundary
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--xyz--\r\n"),  # a part without a name
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="q"; filename="a.txt"\r\n\r\nabc\r\n--xyz--\r\n'),  # q as a file
    ("text/plain", b"q=abc"),
])
def test_broken_forms_get_a_json_error(client, content_type, body):
    response = client.post("/translate", content=body, headers={"content-type": content_type})
    assert response.status_code == 400 and set(response.json()) == {"error"}


def test_extras_come_only_when_asked_and_html_keeps_its_tags(client):
    status, body = post(client, {"q": "abc", "source": "en", "target": "en"})
    assert (status, body) == (200, {"translatedText": "cba"})  # what a LibreTranslate client sees
    status, body = post(client, {"q": ["abc", "de"], "source": "en", "target": "en", "alternatives": 1, "scores": True, "attention": True})
    assert body["alternatives"] == [["cba!"], ["ed!"]]
    assert body["scores"][0] == [{"text": "cba", "score": -0.1}, {"text": "cba!", "score": -0.5}]
    heatmap = body["attention"][0][0]
    assert heatmap["source"] == ["a", "b", "c"] and heatmap["target"] == ["c", "b", "a", "</s>"] and len(heatmap["weights"]) == 4
    html = '<p class="x">Hello <b title="keep me">world</b> &amp; more</p>'
    status, body = post(client, {"q": html, "source": "en", "target": "en", "format": "html"})
    assert status == 200 and body["translatedText"] == '<p class="x">erom &amp; <b title="keep me">dlrow</b> olleH</p>'  # (the sentence reversed whole)
    status, body = post(client, {"q": html, "source": "en", "target": "en", "format": "html", "alternatives": 2})
    assert status == 400 and "for format 'text'" in body["error"]


def test_a_glossary_applies_to_its_own_request_only():
    from starlette.testclient import TestClient

    reverser = Reverser()
    with TestClient(app_of(translator=reverser)) as client:
        status, body = post(client, {"q": "I like tea", "source": "en", "target": "en", "glossary": {"tea": "茶"}})
        assert status == 200 and body == {"translatedText": "茶 ekil I"}
        assert post(client, {"q": "I like tea", "source": "en", "target": "en"})[1] == {"translatedText": "aet ekil I"}
        assert reverser.calls[-1][2] is None  # a client without a glossary is unaffected
        form = client.post("/translate", data={"q": "tea", "source": "en", "target": "en", "glossary": '{"tea": "茶"}'})
        assert form.json() == {"translatedText": "茶"}
        for glossary, status, message in [
            (["tea"], 400, "glossary must be an object"), ({"tea": 5}, 400, "must be strings"), ({"": "x"}, 400, "cannot be empty"),
            ({f"t{i}": "x" for i in range(257)}, 413, "Too many glossary terms"),
        ]:
            got, body = post(client, {"q": "tea", "source": "en", "target": "en", "glossary": glossary})
            assert got == status and message in body["error"]


def test_a_string_already_in_the_target_language_comes_back_as_it_is():
    from starlette.testclient import TestClient

    with TestClient(app_of(pairs=(("en", "zh"), ("zh", "en")))) as client:
        for source in ("en", "auto"):
            status, body = post(client, {"q": ["abc", "你好。", ""], "source": source, "target": "zh"})
            assert status == 200 and body["translatedText"] == ["cba", "你好。", ""]  # was: 400 for the whole request
        status, body = post(client, {"q": "我爱你。", "source": "auto", "target": "en"})
        assert body["translatedText"] == "。你爱我" and body["detectedLanguage"] == {"language": "zh", "confidence": 100.0}


def test_cors_only_for_the_origins_given():
    from starlette.testclient import TestClient

    preflight = {"Origin": "http://page.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with TestClient(app_of(cors_origins=["http://page.test"])) as client:
        answer = client.options("/translate", headers=preflight)
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "http://page.test"
        answer = client.post("/translate", json={"q": "abc", "source": "en", "target": "en"}, headers={"Origin": "http://page.test"})
        assert answer.headers["access-control-allow-origin"] == "http://page.test"
        assert "access-control-allow-origin" not in client.options("/translate", headers={**preflight, "Origin": "http://other.test"}).headers
    with TestClient(app_of()) as client:
        assert "access-control-allow-origin" not in client.post("/translate", json={"q": "a"}, headers={"Origin": "http://page.test"}).headers


def test_keys_closing_and_health(tmp_path):
    from starlette.testclient import TestClient

    app = app_of(api_keys={"k1"})
    with TestClient(app) as client:
        assert post(client, {"q": "abc", "api_key": "no"}) == (403, {"error": "Invalid API key"})
        assert post(client, {"q": "abc", "api_key": "k1", "source": "en", "target": "en"}) == (200, {"translatedText": "cba"})
        assert client.get("/frontend/settings").json()["keyRequired"] is True
        app.state.closing = True
        assert post(client, {"q": "abc", "api_key": "k1"}) == (503, {"error": "shutting down"})
        assert client.get("/health").json() == {"status": "closing", "queued": 0}


def test_a_failing_translator_is_a_500_without_a_traceback(capfd):
    """The app's own handler answers, over real HTTP, through uvicorn on a free port."""

    class Broken:
        def translate(self, sentences, beam, n_best):
            raise RuntimeError("secret internal detail")

    with served(app_of(pairs=(("en", "zh"),), translator=Broken())) as port:
        status, body = call(f"http://127.0.0.1:{port}", "/translate", {"q": "hello", "source": "en", "target": "zh"})
        assert status == 500 and body == {"error": "internal error while translating"}
    assert "Traceback" not in capfd.readouterr().err


# ----------------------------------------------------------------------------------------------
# Fast tier: limits on bodies, headers and connections, through the real uvicorn


def test_a_body_over_the_cap_is_refused_before_it_is_read():
    with served(app_of(limits=_limits(max_body_bytes=100_000))) as port:
        # Content-Length over the cap: 413 at once, with nothing of the body sent
        with connect(port) as sock:
            sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400000000\r\n\r\n")
            assert answer_of(sock, timeout=5)[0] == 413
        # chunked: 413 as soon as the count passes the cap, long before 50 MB are sent
        with connect(port) as sock:
            sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk, sent = b"%x\r\n%s\r\n" % (65536, b"[" * 65536), 0
            try:
                while sent < 50_000_000 and not select.select([sock], [], [], 0.005)[0]:
                    sock.sendall(chunk)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            status, body = answer_of(sock, timeout=5)
            assert status == 413 and "at most 100000 bytes" in body["error"] and sent < 50_000_000
        assert call(f"http://127.0.0.1:{port}", "/translate", {"q": "abc", "source": "en", "target": "en"}) == (200, {"translatedText": "cba"})


def test_requests_h11_cannot_read_are_a_json_400():
    with served(app_of()) as port:
        for request in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000, b"NOT HTTP AT ALL\r\n\r\n"):
            with connect(port) as sock:
                sock.sendall(request)  # (headers still incomplete past 16 KB: h11 gives up)
                status, body = answer_of(sock)
                assert status == 400 and body["error"].startswith("Invalid HTTP request")


def test_slow_headers_and_slow_bodies_get_408():
    with served(app_of(body_timeout=1.0), header_timeout=1.0) as port:
        started = time.perf_counter()
        with connect(port) as sock:
            sock.sendall(b"POST /translate HTTP/1.1\r\nHo")
            status, body = answer_of(sock, timeout=10)
            assert status == 408 and "headers too slow" in body["error"] and time.perf_counter() - started < 5
        with connect(port) as sock:
            sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"q\": ")
            status, body = answer_of(sock, timeout=10)
            assert status == 408 and "body too slow" in body["error"]


def test_slow_clients_beyond_the_connection_cap_leave_room_for_real_ones():
    app = app_of()
    with served(app, max_connections=20, header_timeout=30) as port:
        slow = [connect(port) for _ in range(60)]  # each sends its headers a byte at a time
        try:
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"P")
            base = f"http://127.0.0.1:{port}"
            answers = [call(base, "/translate", {"q": "abc", "source": "en", "target": "en"}, timeout=10) for _ in range(3)]
            assert answers == [(200, {"translatedText": "cba"})] * 3
            closed = sum(_closed(sock) for sock in slow)
            assert closed >= 60 - 20  # the oldest waiting ones made room
        finally:
            for sock in slow:
                sock.close()
        # every connection busy inside a request (its body still coming): one more is a 503
        busy = [connect(port) for _ in range(20)]
        try:
            for sock in busy:
                sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
            time.sleep(0.3)
            with connect(port) as extra:
                status, body = answer_of(extra, timeout=5)
                assert status == 503 and "Too many connections" in body["error"]
        finally:
            for sock in busy:
                sock.close()


def _closed(sock) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _limits(**fields):
    from repl.serve.limits import Limits

    return Limits(**fields)


# ----------------------------------------------------------------------------------------------
# Fast tier: the command line is checked before any model loads


@pytest.mark.parametrize("args, named", [
    (["--port", "70000"], "--port"),
    (["--port", "-1"], "--port"),
    (["--batch-window-ms", "-1"], "--batch-window-ms"),
    (["--batch-window-ms", "nan"], "--batch-window-ms"),
    (["--batch-window-ms", "1e9"], "--batch-window-ms"),
    (["--max-body-bytes", "0"], "--max-body-bytes"),
    (["--cors-origins", "not an origin"], "--cors-origins"),
    (["--shutdown-timeout", "inf"], "--shutdown-timeout"),
])
def test_bad_options_are_one_line_and_exit_2(capsys, args, named):
    from repl.serve.command import main

    with pytest.raises(SystemExit) as exit:
        main([*args, "--model", "/no/such/run"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and named in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_host_that_is_not_this_machine_is_a_usage_error_before_the_models_load(capsys, tmp_path):
    from repl.serve.command import main

    assert main(["--host", "192.0.2.1", "--model", str(tmp_path / "no-such-run")]) == 2  # TEST-NET-1: never ours
    err = capsys.readouterr().err
    assert "--host 192.0.2.1" in err and "no-such-run" not in err and len(err.strip().splitlines()) == 1


def test_every_setting_comes_from_one_table_with_its_environment_variable(monkeypatch, capsys):
    from repl.serve.command import main, parser
    from repl.serve.limits import Limits
    from repl.serve.settings import DEFAULTS, SETTINGS

    text = parser().format_help()
    for setting in SETTINGS:
        assert setting.flag in text and f"${setting.env})" in text  # (argparse wraps at spaces only)
    limits = Limits()
    assert (limits.char_limit, limits.batch_limit, limits.max_body_bytes, limits.file_lines) == (
        DEFAULTS["char_limit"], DEFAULTS["batch_limit"], DEFAULTS["max_body_bytes"], DEFAULTS["file_lines"])
    monkeypatch.setenv("SEQ2SEQ_SERVE_CHAR_LIMIT", "123")
    monkeypatch.setenv("SEQ2SEQ_SERVE_BODY_TIMEOUT", "7.5")
    from repl.serve.settings import from_environment

    command = parser()
    command.set_defaults(**from_environment())
    assert (command.parse_args([]).char_limit, command.parse_args([]).body_timeout) == (123, 7.5)
    assert command.parse_args(["--char-limit", "9"]).char_limit == 9  # the command line wins
    monkeypatch.setenv("SEQ2SEQ_SERVE_PORT", "70000")
    assert main(["--model", "/no/such/run"]) == 2
    err = capsys.readouterr().err
    assert "$SEQ2SEQ_SERVE_PORT: must be from 0 to 65535, not 70000" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------------
# Fast tier: the page, the model cards, files


def test_the_page_comes_from_the_package_and_asks_nothing_of_other_hosts(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/static/app.js", "/static/cards.js", "/static/style.css"):
        assert client.get(path).status_code == 200
    web = ROOT / "repl" / "serve" / "web"
    for name in ("index.html", "app.js", "cards.js", "style.css"):
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+", (web / name).read_text(encoding="utf-8")))
        assert urls <= {"http://www.w3.org"}, (name, urls)  # (the SVG namespace: a name, never fetched)


def test_model_cards_with_their_training_curves(tmp_path):
    from starlette.testclient import TestClient

    from engine.runs import RunFolder

    run = tmp_path / "run"
    run.mkdir()
    for name in ("run.json", "eval.json", "metrics.csv", "config.json"):
        (run / name).write_bytes((ROOT / "checkpoints" / "default" / name).read_bytes())
    translator = Reverser()
    translator.run, translator.config = RunFolder(run), RunFolder(run).config()
    with TestClient(app_of(translator=translator)) as client:
        card = client.get("/info").json()["models"][0]
        assert card["name"] == "run" and card["direction"] == "en-en" and str(tmp_path) not in json.dumps(card)
        assert card["scores"]["test"]["bleu"] > 0 and card["parameters"] > 0
        assert len(card["curve"]["val_loss"]) == len(card["curve"]["epoch"]) > 1
        (run / "run.json").write_text('{"params": "x", "vocab": 5}')  # damaged: the card says what it can
        (run / "metrics.csv").unlink()
        (run / "metrics.csv").symlink_to(ROOT / "checkpoints" / "default" / "metrics.csv")  # a link is not followed
        card = client.get("/info").json()["models"][0]
        assert card["parameters"] is None and card["curve"] is None


def test_files_come_back_translated_line_for_line(tmp_path):
    from starlette.testclient import TestClient

    app = app_of(limits=_limits(batch_limit=2, max_body_bytes=4096), api_keys={"k"})
    with TestClient(app) as client:
        def send(name, content, key="k"):
            response = client.post("/file", files={"file": (name, content)}, data={"api_key": key})
            if response.headers["content-type"].startswith("application/json"):
                return response.status_code, [response.json()]
            return response.status_code, [json.loads(line) for line in response.text.splitlines()]

        status, lines = send("notes.txt", "abc\r\nde\r\n\r\nfgh\r\nij\r\n")
        assert status == 200 and [line["done"] for line in lines] == [0, 2, 4, 4]  # chunks of --batch-limit
        assert lines[-1]["name"] == "notes.en.txt" and lines[-1]["text"] == "cba\r\ned\r\n\r\nhgf\r\nji\r\n"
        status, lines = send("page.html", "<p>abc <i>de</i></p>")
        assert lines[-1]["text"] == "<p><i>ed</i> cba</p>"
        status, lines = send("film.srt", "1\n00:00:01,000 --> 00:00:02,500\nabc\nde\n\n")
        assert lines[-1]["text"] == "1\n00:00:01,000 --> 00:00:02,500\ned cba\n\n"
        status, lines = send("guide.md", "# abc\n\n```\nabc\n```\n\nde `x` fg\n")  # (the formats seq2seq-batch reads whole)
        assert lines[-1]["name"] == "guide.en.md" and lines[-1]["text"] == "# cba\n\n```\nabc\n```\n\ngf `x` ed\n"
        status, lines = send("app.po", 'msgid "abc"\nmsgstr ""\n\nmsgid "de"\nmsgstr "DE"\n')
        assert 'msgid "abc"\nmsgstr "cba"' in lines[-1]["text"] and 'msgstr "DE"' in lines[-1]["text"]
        status, lines = send("app.xlf", '<xliff version="1.2"><file><body><trans-unit id="1"><source>abc</source></trans-unit></body></file></xliff>')
        assert '<source>abc</source><target state="needs-review-translation">cba</target>' in lines[-1]["text"]
        for name, content, key, status, message in [
            ("film.srt", "not a subtitle\n", "k", 400, "film.srt:1"), ("x.docx", "abc", "k", 400, "x.docx: not a file"),
            ("app.xlf", "<xliff version='1.2'><file>", "k", 400, "app.xlf:1: not well-formed XML"),
            ("app.po", 'msgid "abc"\nmsgstr "x\nmsgid', "k", 400, "app.po: not a gettext catalogue"),
            ("x.txt", b"\xff\xfe", "k", 400, "not UTF-8"), ("x.txt", "abc", "wrong", 403, "Invalid API key"),
            ("x.txt", "a" * 5000, "k", 413, "at most 4096 bytes"),
        ]:
            got, lines = send(name, content, key)
            assert got == status and message in lines[0]["error"]


# ----------------------------------------------------------------------------------------------
# The slow tier: the real server with a real toy model


@pytest.fixture(scope="module")
def server(toy_run):
    running = Server(toy_run.path, "--beam", "4")
    yield running
    assert running.stop() == 0


@pytest.mark.slow
def test_translate_a_string_json_and_form(server):
    assert call(server.base, "/translate", {"q": "abc", "source": "en", "target": "en"}) == (200, {"translatedText": "cba"})
    status, body = call(server.base, "/translate", {"q": "cafe", "source": "en", "target": "en", "format": "text"}, form=True)
    assert (status, body) == (200, {"translatedText": "efac"})


@pytest.mark.slow
def test_a_list_q_keeps_order_and_length(server):
    texts = ["abc", "", "cafe", "fed", "bead", "a"]
    status, body = call(server.base, "/translate", {"q": texts, "source": "en", "target": "en"})
    assert status == 200 and body["translatedText"] == ["cba", "", "efac", "def", "daeb", "a"]
    status, body = call(server.base, "/translate", {"q": ["abc", "fed"], "source": "en", "target": "en"}, form=True)
    assert body["translatedText"] == ["cba", "def"]


@pytest.mark.slow
def test_alternatives_are_distinct_n_best_entries(server):
    status, body = call(server.base, "/translate", {"q": "abcd", "source": "en", "target": "en", "alternatives": 3})
    assert status == 200 and body["translatedText"] == "dcba"
    alternatives = body["alternatives"]
    assert 1 <= len(alternatives) <= 3 and len(set(alternatives)) == len(alternatives) and "dcba" not in alternatives
    status, body = call(server.base, "/translate", {"q": ["ab", "cd"], "source": "en", "target": "en", "alternatives": 2})
    assert status == 200 and len(body["alternatives"]) == 2 and all(isinstance(a, list) for a in body["alternatives"])


@pytest.mark.slow
def test_auto_source_detects_the_language_and_refuses_a_direction_it_has_no_model_for(server):
    status, body = call(server.base, "/translate", {"q": "abc", "source": "auto", "target": "en"})
    assert status == 200 and body["translatedText"] == "cba"
    assert body["detectedLanguage"] == {"language": "en", "confidence": 100.0}
    status, body = call(server.base, "/translate", {"q": "我爱你。", "source": "auto", "target": "en"})
    assert status == 400 and "no model here translates zh to en" in body["error"]


@pytest.mark.slow
def test_detect_languages_and_health(server):
    assert call(server.base, "/detect", {"q": "你好，世界"}) == (200, [{"language": "zh", "confidence": 100.0}])
    assert call(server.base, "/detect", {"q": "hello"}, form=True) == (200, [{"language": "en", "confidence": 100.0}])
    # the toy model reverses Latin strings: "en" → "en" (the shipped one: en → zh)
    assert call(server.base, "/languages") == (200, [
        {"code": "en", "name": "English", "targets": ["en"]}, {"code": "zh", "name": "Chinese", "targets": []},
    ])
    assert call(server.base, "/health") == (200, {"status": "ok", "queued": 0})


@pytest.mark.slow
def test_errors_of_the_real_server_are_json(server):
    for path, data, status, message in [
        ("/translate", {"q": "a" * 5001, "source": "en", "target": "en"}, 413, "Too many characters"),
        ("/translate", {"q": "abc", "source": ["en"], "target": "en"}, 400, "source must be a string"),
        ("/nowhere", None, 404, "Not found"),
    ]:
        got, body = call(server.base, path, data)
        assert got == status and message in body["error"] and set(body) == {"error"}
    # a page elsewhere (DNS rebinding, a cross-site form) is refused; this server's own names are not
    assert call(server.base, "/health", headers={"Host": "rebound.example"})[0] == 403
    assert call(server.base, "/health", headers={"Host": f"localhost:{server.port}"})[0] == 200
    form = {"q": "abc", "source": "en", "target": "en"}
    assert call(server.base, "/translate", form, form=True, headers={"Origin": "https://evil.example"})[0] == 403
    assert call(server.base, "/translate", form, form=True, headers={"Origin": server.base}) == (200, {"translatedText": "cba"})
    assert "Traceback" not in "".join(server.lines)


@pytest.mark.slow
def test_the_attention_of_a_real_model_has_a_row_per_output_token(toy_attention_run):
    running = Server(toy_attention_run.path)
    try:
        status, body = call(running.base, "/translate", {"q": "abcd", "source": "en", "target": "en", "attention": True})
        heatmap = body["attention"][0]
        assert status == 200 and body["translatedText"] == "dcba" and heatmap["source"] == list("abcd")
        assert heatmap["target"] == [*"dcba", "</s>"] and len(heatmap["weights"]) == 5
        assert all(len(row) == 4 and abs(sum(row) - 1) < 0.01 for row in heatmap["weights"])
    finally:
        assert running.stop() == 0


@pytest.mark.slow
def test_concurrent_clients_each_get_their_own_answer(server):
    words = [w for w in ("abc", "cafe", "fed", "bead", "dab", "face", "ace", "bed") for _ in range(4)]

    def one(word):
        return word, call(server.base, "/translate", {"q": word, "source": "en", "target": "en"})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, words))
    assert all(status == 200 and body["translatedText"] == word[::-1] for word, (status, body) in answers)


@pytest.mark.slow
def test_api_keys_and_rate_limit(toy_run, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# one a line\nsecret-1\n")
    guarded = Server(toy_run.path, "--api-keys", keys, "--req-limit", "3")
    try:
        request = {"q": "abc", "source": "en", "target": "en"}
        status, body = call(guarded.base, "/translate", request)
        assert status == 403 and body == {"error": "Invalid API key"}
        assert call(guarded.base, "/translate", {**request, "api_key": "wrong"})[0] == 403
        statuses = [call(guarded.base, "/translate", {**request, "api_key": "secret-1"})[0] for _ in range(3)]
        status, body = call(guarded.base, "/translate", {**request, "api_key": "secret-1"})
        assert statuses == [200, 200, 200] and status == 429 and "Too many requests" in body["error"]  # 3 a minute
    finally:
        assert guarded.stop() == 0


@pytest.mark.slow
def test_a_full_queue_answers_503_and_the_rest_are_translated(toy_run):
    small = Server(toy_run.path, "--queue-size", "1", "--batch-window-ms", "50")
    try:
        texts = ["abcdef" * 20] * 8

        def one(_):
            return call(small.base, "/translate", {"q": texts, "source": "en", "target": "en"})

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(one, range(24)))
        statuses = [status for status, _ in answers]
        assert 503 in statuses and 200 in statuses and set(statuses) <= {200, 503}
        assert all("queue is full" in body["error"] for status, body in answers if status == 503)
    finally:
        assert small.stop() == 0


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_then_refuses_new_ones(toy_run):
    running = Server(toy_run.path, "--batch-limit", "20000", "--char-limit", "1000000", "--beam", "8", "--shutdown-timeout", "300")
    result = {}
    texts = [w * 3 for w in ("abcd", "cafe", "bead", "fade")] * 3000
    long_request = {"q": texts, "source": "en", "target": "en", "alternatives": 2}

    def send():
        result["answer"] = call(running.base, "/translate", long_request, timeout=300)
        result["answered"] = time.perf_counter()

    worker = threading.Thread(target=send)
    worker.start()
    time.sleep(0.5)
    signalled = time.perf_counter()
    running.process.send_signal(signal.SIGTERM)
    worker.join(timeout=300)
    status, body = result["answer"]
    assert status == 200 and len(body["translatedText"]) == len(texts)
    assert result["answered"] > signalled  # it was still being translated when the signal came
    assert running.process.wait(timeout=60) == 0
    with pytest.raises(urllib.error.URLError):
        call(running.base, "/health", timeout=5)


@pytest.mark.slow
def test_a_half_sent_body_does_not_hold_up_sigterm(toy_run):
    """It kept the server up 90 s after SIGTERM (issue 21): now it stops within --shutdown-timeout."""
    running = Server(toy_run.path, "--shutdown-timeout", "2", "--body-timeout", "600")
    try:
        with connect(running.port) as sock:
            sock.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"q\": ")
            time.sleep(0.3)
            signalled = time.perf_counter()
            running.process.send_signal(signal.SIGTERM)
            assert running.process.wait(timeout=30) == 0
            assert time.perf_counter() - signalled < 10
    finally:
        running.process.kill()


@pytest.mark.slow
def test_slow_clients_cannot_exhaust_file_descriptors(toy_run):
    """Under a 256 open-files limit, 400 connections that send their headers a byte at a time: a
    normal client still gets its 3 answers, and nothing logs 'Too many open files' (issue 21)."""
    import resource

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    running = Server(toy_run.path, preexec_fn=low_limit)
    slow: list[socket.socket] = []
    try:
        for _ in range(400):  # (once the server's queue is full a connect hangs: give up soon)
            with contextlib.suppress(OSError):
                slow.append(socket.create_connection(("127.0.0.1", running.port), timeout=0.25))
        for byte in b"POST /tra":
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(bytes([byte]))
            time.sleep(0.1)
        answers = [call(running.base, "/translate", {"q": "abc", "source": "en", "target": "en"}, timeout=10) for _ in range(3)]
        assert answers == [(200, {"translatedText": "cba"})] * 3
        assert len(os.listdir(f"/proc/{running.process.pid}/fd")) < 256
    finally:
        for sock in slow:
            sock.close()
    assert running.stop() == 0
    log = "".join(running.lines)
    assert "Too many open files" not in log and "Traceback" not in log and "lowered to" in log


@pytest.mark.slow
def test_glossary_html_and_target_language_strings_with_a_real_subword_model(toy_subword_run):
    running = Server(toy_subword_run.path)
    try:
        status, body = call(running.base, "/translate", {"q": "Tom likes tea.", "source": "en", "target": "zh"})
        assert status == 200 and "汤姆" in body["translatedText"]
        status, body = call(running.base, "/translate", {"q": "Tom likes tea.", "source": "en", "target": "zh", "glossary": {"Tom": "托马斯"}})
        assert status == 200 and "托马斯" in body["translatedText"] and "汤姆" not in body["translatedText"]
        html = '<p>Tom likes tea. <a href="/x" title="Mary">Mary has 3 cats.</a></p>'
        status, body = call(running.base, "/translate", {"q": html, "source": "en", "target": "zh", "format": "html"})
        assert status == 200 and body["translatedText"].startswith("<p>") and '<a href="/x" title="Mary">' in body["translatedText"]
        assert "玛丽" in body["translatedText"] and "3" in body["translatedText"]
        status, body = call(running.base, "/translate", {"q": ["Mary likes tea.", "我喜欢茶。"], "source": "en", "target": "zh"})
        assert status == 200 and body["translatedText"][1] == "我喜欢茶。" and "玛丽" in body["translatedText"][0]
    finally:
        assert running.stop() == 0
