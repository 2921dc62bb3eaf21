"""`seq2seq-serve`: a local HTTP translation API in LibreTranslate's dialect.

Clients that speak LibreTranslate (editor plugins, browser extensions, bots, scripts) can point
at this server unchanged: `POST /translate`, `POST /detect`, `GET /languages`, plus `GET /health`.

Stack: Starlette on uvicorn. Starlette is the small ASGI toolkit FastAPI is built on; this API
has four routes with LibreTranslate's own request shapes (JSON or form fields), so FastAPI's
schema layer would add a dependency (pydantic) without doing any of the work here. uvicorn is
the standard ASGI server and handles SIGTERM gracefully: it stops accepting connections and
lets in-flight requests finish.

Requests arriving together are translated together: each request's sentences go into one
bounded queue (full: 503), and one worker thread takes everything that arrives within a small
window (`--batch-window-ms`) and decodes it in one call to the compiled batched decoder. A lone
request waits at most that window; many concurrent clients share batches.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import queue
import signal
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.config import DecodeOptions
from repl.console import UsageError, add_decode_options, at_least, console, decode_options, import_tensorflow, run_main

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


# ----------------------------------------------------------------------------------------------
# Language detection by script: the two languages this project translates differ in script


def detect(text: str) -> tuple[str, float]:
    """("zh" or "en", confidence 0–100): the script of the text as the tools route it
    (engine.direction.script_of), with the share of its letters in that script."""
    from engine.direction import script_of

    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en", 0.0
    han = sum(unicodedata.name(c, "").startswith("CJK UNIFIED") for c in letters) / len(letters)
    language = script_of(text) or "en"
    return language, round(100 * (han if language == "zh" else 1 - han), 1)


def language_of(vocab) -> str:
    """The language a vocabulary is in, by script: "zh" when most of its tokens are Han."""
    return "zh" if vocab.chinese else "en"


# ----------------------------------------------------------------------------------------------
# Dynamic batching


class QueueFull(Exception):
    pass


@dataclass
class Job:
    sentences: list[str]
    options: DecodeOptions
    notify: Callable[[], None] = lambda: None  # called from the worker thread when results are in
    results: list | None = None
    error: BaseException | None = None


class Batcher:
    """One worker thread owns the translator. `submit` queues a job (QueueFull when the queue is
    at its bound); the worker gathers the jobs that arrive within `window` seconds (up to
    `max_sentences`), decodes each group of equal settings in one call, and wakes the callers."""

    def __init__(self, translator, max_queue: int = 256, window: float = 0.005, max_sentences: int = 256):
        self.translator, self.window, self.max_sentences = translator, window, max_sentences
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.thread = threading.Thread(target=self._work, name="batcher", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Job:
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull from None
        return job

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _gather(self, first: Job) -> list[Job]:
        jobs, sentences = [first], len(first.sentences)
        deadline = time.monotonic() + self.window
        while sentences < self.max_sentences:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:  # closing: finish what was gathered, then stop
                self.jobs.put(None)
                break
            jobs.append(job)
            sentences += len(job.sentences)
        return jobs

    def _work(self) -> None:
        while (first := self.jobs.get()) is not None:
            jobs = self._gather(first)
            groups: dict[DecodeOptions, list[Job]] = collections.defaultdict(list)
            for job in jobs:
                groups[job.options].append(job)
            for options, group in groups.items():
                try:
                    results = self.translator.translate([s for job in group for s in job.sentences], options=options)
                    start = 0
                    for job in group:
                        job.results = results[start : start + len(job.sentences)]
                        start += len(job.sentences)
                except Exception as err:  # reported per request as a 500
                    for job in group:
                        job.error = err
                for job in group:
                    job.notify()


# ----------------------------------------------------------------------------------------------
# Limits: API keys and a per-client rate limit


def _resolve(future) -> None:
    if not future.done():  # (a client that went away cancels its request's future)
        future.set_result(None)


class RateLimiter:
    """At most `per_minute` requests per client in any 60-second window (0: no limit)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.seen: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if not self.per_minute:
            return True
        now = time.monotonic()
        with self.lock:
            times = self.seen[client]
            while times and now - times[0] > 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            return True


def read_api_keys(path: str | None) -> set[str] | None:
    if path is None:
        return None
    keys = {line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    if not keys:
        raise UsageError(f"{path}: no API keys in it (one a line)")
    return keys


@dataclass
class Limits:
    char_limit: int = 5000  # characters of q per request
    batch_limit: int = 64  # strings in a list q
    max_alternatives: int = 8
    options: DecodeOptions = DecodeOptions()


# ----------------------------------------------------------------------------------------------
# The application


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def create_app(batchers, source_lang: str = "en", target_lang: str = "zh", api_keys: set[str] | None = None,
               rate_limit: int = 0, limits: Limits | None = None):
    """The Starlette app over one batcher per direction: `batchers` maps (source, target)
    language codes to a Batcher, or is one Batcher for source_lang → target_lang."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if isinstance(batchers, Batcher):
        batchers = {(source_lang, target_lang): batchers}
    pairs = ", ".join(f"{a} to {b}" for a, b in batchers)
    default_target = next(iter(batchers))[1]
    limits = limits or Limits()
    limiter = RateLimiter(rate_limit)
    state = {"closing": False}

    async def fields(request: Request) -> dict:
        """JSON body or form fields (LibreTranslate accepts both)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind == "application/json":
            try:
                data = json.loads(await request.body() or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ApiError(400, f"invalid JSON: {err}") from None
            if not isinstance(data, dict):
                raise ApiError(400, "the JSON body must be an object")
            return data
        if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            data = {key: form.getlist(key) for key in form.keys()}
            return {key: values if key == "q" and len(values) > 1 else values[0] for key, values in data.items()}
        if not kind and not await request.body():
            return {}
        raise ApiError(400, f"unsupported content type {kind!r}; send JSON or form fields")

    def check_access(request: Request, data: dict) -> None:
        if state["closing"]:
            raise ApiError(503, "shutting down")
        if api_keys is not None and data.get("api_key") not in api_keys:
            raise ApiError(403, "Invalid API key")
        client = request.client.host if request.client else "?"
        if not limiter.allow(client):
            raise ApiError(429, f"Too many requests: at most {rate_limit} a minute")

    def texts_of(data: dict) -> tuple[list[str], bool]:
        q = data.get("q")
        if q is None:
            raise ApiError(400, "Invalid request: missing q parameter")
        as_list = isinstance(q, list)
        texts = q if as_list else [q]
        if not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "Invalid request: q must be a string or a list of strings")
        if as_list and len(texts) > limits.batch_limit:
            raise ApiError(413, f"Too many texts: at most {limits.batch_limit} in one request")
        if sum(len(t) for t in texts) > limits.char_limit:
            raise ApiError(413, f"Too many characters: at most {limits.char_limit} in one request")
        return texts, as_list

    async def run_job(batcher: Batcher, texts: list[str], options: DecodeOptions) -> list:
        # The worker wakes this request through the event loop: no thread waits per request
        # (a thread each would cap the requests in flight, and so the batch, at the pool's size).
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        try:
            job = batcher.submit(Job(texts, options, notify=lambda: loop.call_soon_threadsafe(_resolve, finished)))
        except QueueFull:
            raise ApiError(503, "the translation queue is full; try again shortly") from None
        await finished
        if job.error is not None:
            raise job.error
        return job.results

    async def translate(request: Request):
        data = await fields(request)
        check_access(request, data)
        texts, as_list = texts_of(data)
        source, target = data.get("source", "auto"), data.get("target", default_target)
        if data.get("format", "text") != "text":
            raise ApiError(400, "Invalid request: only format 'text' is supported")
        try:
            alternatives = int(data.get("alternatives", 0))
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid request: alternatives must be a whole number") from None
        if not 0 <= alternatives <= limits.max_alternatives:
            raise ApiError(400, f"Invalid request: alternatives must be from 0 to {limits.max_alternatives}")
        detected = [detect(t) for t in texts] if source == "auto" else None
        languages = [d[0] for d in detected] if detected else [source] * len(texts)
        for language in {*languages, target}:
            if language not in LANGUAGE_NAMES:
                raise ApiError(400, f"{language!r} is not supported; languages: {', '.join(LANGUAGE_NAMES)}")
        missing = sorted({lang for lang in languages if (lang, target) not in batchers})
        if missing:
            raise ApiError(400, f"no model here translates {'/'.join(missing)} to {target}; this server translates {pairs}")
        # Each source language's texts go to its model's batcher, all at once; answers keep q's order.
        groups = {lang: [i for i, x in enumerate(languages) if x == lang] for lang in dict.fromkeys(languages)}
        options = limits.options.with_(n_best=alternatives + 1)
        answers = await asyncio.gather(*(
            run_job(batchers[(lang, target)], [texts[i] for i in rows], options) for lang, rows in groups.items()
        ))
        results: list = [None] * len(texts)
        for rows, answer in zip(groups.values(), answers):
            for i, result in zip(rows, answer):
                results[i] = result
        translated = [r.text for r in results]
        body: dict = {"translatedText": translated if as_list else translated[0]}
        if alternatives:
            others = [[h.text for h in r.n_best[1:] if h.text != r.text][:alternatives] for r in results]
            body["alternatives"] = others if as_list else others[0]
        if detected:
            found = [{"language": lang, "confidence": conf} for lang, conf in detected]
            body["detectedLanguage"] = found if as_list else found[0]
        return JSONResponse(body)

    async def detect_route(request: Request):
        data = await fields(request)
        check_access(request, data)
        texts, as_list = texts_of(data)
        found = [[{"language": lang, "confidence": conf}] for lang, conf in map(detect, texts)]
        return JSONResponse(found if as_list else found[0])

    async def languages(request: Request):
        return JSONResponse([
            {"code": code, "name": name, "targets": [b for a, b in batchers if a == code]}
            for code, name in LANGUAGE_NAMES.items()
        ])

    async def health(request: Request):
        queued = sum(batcher.jobs.qsize() for batcher in batchers.values())
        return JSONResponse({"status": "closing" if state["closing"] else "ok", "queued": queued})

    async def api_error(request, err: ApiError):
        return JSONResponse({"error": err.message}, status_code=err.status)

    async def server_error(request, err: Exception):
        console.print(f"[red]error:[/] {type(err).__name__} while serving {request.url.path}: {err}", soft_wrap=True, markup=True)
        return JSONResponse({"error": "internal error while translating"}, status_code=500)

    async def not_found(request, err):
        status = getattr(err, "status_code", 404)
        return JSONResponse({"error": "Not found" if status == 404 else "Method not allowed"}, status_code=status)

    app = Starlette(
        routes=[
            Route("/translate", translate, methods=["POST"]),
            Route("/detect", detect_route, methods=["POST"]),
            Route("/languages", languages, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={ApiError: api_error, Exception: server_error, 404: not_found, 405: not_found},
    )
    app.state.serving = state
    return app


# ----------------------------------------------------------------------------------------------
# Entry point


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seq2seq-serve",
        description="Serve translations over HTTP with LibreTranslate's API (POST /translate, /detect; GET /languages, /health).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=at_least(0), default=5000, help="port (default: 5000; 0 picks a free one)")
    p.add_argument("--model", help="run folder: serve only it (default: the shipped model of each direction, else the newest run)")
    p.add_argument("--api-keys", metavar="FILE", help="require one of these keys (one a line) as api_key")
    p.add_argument("--char-limit", type=at_least(1), default=5000, help="most characters of q in one request (default: 5000)")
    p.add_argument("--batch-limit", type=at_least(1), default=64, help="most strings in a list q (default: 64)")
    p.add_argument("--req-limit", type=at_least(0), default=0, help="requests a minute per client address (default: 0, no limit)")
    p.add_argument("--queue-size", type=at_least(1), default=256, help="requests waiting for the decoder before 503 (default: 256)")
    p.add_argument("--batch-window-ms", type=float, default=5.0, help="how long the decoder waits to gather requests (default: 5)")
    add_decode_options(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def run():
        from repl.models import Models

        api_keys = read_api_keys(args.api_keys)
        models = Models.for_session(args.model, options=decode_options(args))  # the shipped model of each direction, or --model
        import_tensorflow()
        import uvicorn

        from engine.translate import Translator

        batchers = {}
        for run_folder in models.runs.values():  # a server loads every model it serves before it listens
            translator = Translator(run_folder, warn=lambda m: None)
            translator.warm_up(decode_options(args))
            pair = tuple(language_of(vocab) for vocab in (translator.src_vocab, translator.tgt_vocab))
            batchers[pair] = Batcher(translator, args.queue_size, args.batch_window_ms / 1000)
        app = create_app(
            batchers, api_keys=api_keys, rate_limit=args.req_limit,
            limits=Limits(args.char_limit, args.batch_limit, options=decode_options(args)),
        )
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False))
        original = server.handle_exit

        def closing(sig, frame):  # refuse what still arrives on open connections, then stop
            app.state.serving["closing"] = True
            original(sig, frame)

        server.handle_exit = closing
        # uvicorn re-raises the signal it stopped for once it is done; by then the stop was
        # graceful (in-flight requests answered), so it ends the process with status 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        started = threading.Thread(target=_announce, args=(server, args.host, list(models.runs.values())), daemon=True)
        started.start()
        try:
            server.run()
        finally:
            for batcher in batchers.values():
                batcher.close()
        console.print("stopped")

    return run_main(run)


def _announce(server, host, runs) -> None:
    """One line on stderr once the socket listens (with the real port when --port 0)."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    served = " and ".join(str(run.path) for run in runs)
    console.print(f"serving {served} on http://{host}:{port} (LibreTranslate API; Ctrl-C or SIGTERM stops)", soft_wrap=True)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
