"""seq2seq-serve: the real server on a free localhost port, spoken to over HTTP as a
LibreTranslate client would (JSON and form bodies), every route and every error code."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import script


class Server:
    """`seq2seq-serve --port 0 …` in a process of its own; `base` is its address."""

    def __init__(self, model, *args, env=None):
        model_args = ["--model", str(model)] if model is not None else []  # None: the shipped models
        self.process = subprocess.Popen(
            [script("seq2seq-serve"), *model_args, "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
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
        self.base = f"http://127.0.0.1:{found.group(1)}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def call(base, path, data=None, form=False, method=None, timeout=60):
    """(status, parsed JSON body) of one request."""
    body, headers = None, {}
    if data is not None and form:
        body, headers = urllib.parse.urlencode(data, doseq=True).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    elif data is not None:
        body, headers = (data if isinstance(data, bytes) else json.dumps(data).encode()), {"Content-Type": "application/json"}
    request = urllib.request.Request(base + path, data=body, headers=headers, method=method or ("POST" if body is not None else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def server(toy_run):
    running = Server(toy_run.path, "--beam", "4")
    yield running
    assert running.stop() == 0


def test_translate_a_string_json_and_form(server):
    assert call(server.base, "/translate", {"q": "abc", "source": "en", "target": "en"}) == (200, {"translatedText": "cba"})
    status, body = call(server.base, "/translate", {"q": "cafe", "source": "en", "target": "en", "format": "text"}, form=True)
    assert (status, body) == (200, {"translatedText": "efac"})


def test_a_list_q_keeps_order_and_length(server):
    texts = ["abc", "", "cafe", "fed", "bead", "a"]
    status, body = call(server.base, "/translate", {"q": texts, "source": "en", "target": "en"})
    assert status == 200 and body["translatedText"] == ["cba", "", "efac", "def", "daeb", "a"]
    status, body = call(server.base, "/translate", {"q": ["abc", "fed"], "source": "en", "target": "en"}, form=True)
    assert body["translatedText"] == ["cba", "def"]


def test_alternatives_are_distinct_n_best_entries(server):
    status, body = call(server.base, "/translate", {"q": "abcd", "source": "en", "target": "en", "alternatives": 3})
    assert status == 200 and body["translatedText"] == "dcba"
    alternatives = body["alternatives"]
    assert 1 <= len(alternatives) <= 3 and len(set(alternatives)) == len(alternatives) and "dcba" not in alternatives
    status, body = call(server.base, "/translate", {"q": ["ab", "cd"], "source": "en", "target": "en", "alternatives": 2})
    assert status == 200 and len(body["alternatives"]) == 2 and all(isinstance(a, list) for a in body["alternatives"])


def test_auto_source_detects_the_language_and_refuses_a_direction_it_has_no_model_for(server):
    status, body = call(server.base, "/translate", {"q": "abc", "source": "auto", "target": "en"})
    assert status == 200 and body["translatedText"] == "cba"
    assert body["detectedLanguage"] == {"language": "en", "confidence": 100.0}
    status, body = call(server.base, "/translate", {"q": "我爱你。", "source": "auto", "target": "en"})
    assert status == 400 and "no model here translates zh to en" in body["error"]


def test_detect_languages_and_health(server):
    assert call(server.base, "/detect", {"q": "你好，世界"}) == (200, [{"language": "zh", "confidence": 100.0}])
    assert call(server.base, "/detect", {"q": "hello"}, form=True) == (200, [{"language": "en", "confidence": 100.0}])
    # the toy model reverses Latin strings: "en" → "en" (the shipped one: en → zh)
    assert call(server.base, "/languages") == (200, [
        {"code": "en", "name": "English", "targets": ["en"]}, {"code": "zh", "name": "Chinese", "targets": []},
    ])
    assert call(server.base, "/health") == (200, {"status": "ok", "queued": 0})


@pytest.mark.parametrize(
    "path, data, status, message",
    [
        ("/translate", {"source": "en", "target": "en"}, 400, "missing q"),
        ("/translate", b"{not json", 400, "invalid JSON"),
        ("/translate", {"q": 5}, 400, "q must be a string"),
        ("/translate", {"q": "abc", "source": "fr", "target": "en"}, 400, "'fr' is not supported"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "format": "html"}, 400, "only format 'text'"),
        ("/translate", {"q": "abc", "source": "en", "target": "en", "alternatives": "many"}, 400, "alternatives"),
        ("/translate", {"q": "a" * 5001, "source": "en", "target": "en"}, 413, "Too many characters"),
        ("/translate", {"q": ["a"] * 65, "source": "en", "target": "en"}, 413, "Too many texts"),
        ("/nowhere", None, 404, "Not found"),
    ],
)
def test_bad_requests_get_a_json_error_and_no_traceback(server, path, data, status, message):
    got, body = call(server.base, path, data)
    assert got == status and message in body["error"] and set(body) == {"error"}
    assert "Traceback" not in json.dumps(body)


def test_concurrent_clients_each_get_their_own_answer(server):
    words = [w for w in ("abc", "cafe", "fed", "bead", "dab", "face", "ace", "bed") for _ in range(4)]

    def one(word):
        return word, call(server.base, "/translate", {"q": word, "source": "en", "target": "en"})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, words))
    assert all(status == 200 and body["translatedText"] == word[::-1] for word, (status, body) in answers)


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


def test_sigterm_finishes_the_request_in_flight_then_refuses_new_ones(toy_run):
    running = Server(toy_run.path, "--batch-limit", "20000", "--char-limit", "1000000", "--beam", "8")
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


def test_a_failing_translator_is_a_500_without_a_traceback():
    """In-process (the only way to make the real decoder fail on purpose): the app's own
    exception handler answers, over real HTTP, through uvicorn on a free port."""
    import socket

    import uvicorn

    from repl.serve import Batcher, create_app

    class Broken:
        def translate(self, sentences, beam, n_best):
            raise RuntimeError("secret internal detail")

    batcher = Batcher(Broken())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(batcher, "en", "zh"), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.02)
        status, body = call(f"http://127.0.0.1:{port}", "/translate", {"q": "hello", "source": "en", "target": "zh"})
        assert status == 500 and body == {"error": "internal error while translating"}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        batcher.close()
