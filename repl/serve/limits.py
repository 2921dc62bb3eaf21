"""What keeps `seq2seq-serve` answering: keys, a rate limit, and the limits on connections,
headers and bodies that slow or hostile clients meet.

- API keys and a per-address rate limit (requests a minute).
- `BodyLimit` (ASGI middleware): a body over `--max-body-bytes` is answered 413 before it is read
  whole (a Content-Length over the cap at once; a chunked body as soon as the count passes it),
  and a body that does not arrive within `--body-timeout` seconds is answered 408.
- `guarded_protocol` (uvicorn's h11 protocol with two additions): the request headers must arrive
  within `--header-timeout` seconds of the connection (or of the previous answer), else 408; and
  at most `--max-connections` connections are open at once: one more closes the oldest connection
  that is only waiting for headers, or, when every connection is busy with a request, is answered
  503 and closed. The server so never runs out of file descriptors. A request h11 cannot read
  (a broken request line; headers still incomplete at 16 KB) is a 400 in JSON like every other.
"""

from __future__ import annotations

import asyncio
import collections
import json
import resource
import threading
import time
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from engine.config import DecodeOptions
from engine.data.files import file_lines
from repl.console import UsageError
from repl.serve.settings import DEFAULTS


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
    """The keys of --api-keys FILE (one a line, # comments); a file that cannot be read is a usage
    error naming it (and the line, for bytes that are not UTF-8)."""
    if path is None:
        return None
    lines = file_lines(path, UsageError, f"--api-keys {path}")
    keys = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    if not keys:
        raise UsageError(f"{path}: no API keys in it (one a line)")
    return keys


@dataclass
class Limits:
    char_limit: int = DEFAULTS["char_limit"]  # characters of q per request (the defaults: repl/serve/settings.py)
    batch_limit: int = DEFAULTS["batch_limit"]  # strings in a list q
    max_alternatives: int = 8
    options: DecodeOptions = DecodeOptions()
    max_body_bytes: int = DEFAULTS["max_body_bytes"]
    max_glossary_terms: int = 256
    file_lines: int = DEFAULTS["file_lines"]  # lines (or texts between tags, or cues) of one file at /file
    file_timeout: float = DEFAULTS["file_timeout"]  # seconds for one file at /file, reading to writing back


def raw_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer `{"error": message}` that closes the connection, for the moments
    before a request exists (no ASGI app to answer it)."""
    body = json.dumps({"error": message}).encode()
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    return head.encode() + body


# ----------------------------------------------------------------------------------------------
# Bodies


class BodyLimit:
    """ASGI middleware: the whole body read here, at most `max_bytes` of it and within `timeout`
    seconds, then handed to the app; 413 or 408 (JSON, connection closed) otherwise."""

    def __init__(self, app, max_bytes: int, timeout: float):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and int(length) > self.max_bytes:  # (h11 has checked it is a number)
            return await self._refuse(send, 413, f"Request body too large: at most {self.max_bytes} bytes")
        chunks, size = [], 0
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.TimeoutError:
                return await self._refuse(send, 408, f"Request body too slow: it must arrive within {self.timeout:g} s")
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._refuse(send, 413, f"Request body too large: at most {self.max_bytes} bytes")
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # (after the body: the disconnect, when it comes)

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})


# ----------------------------------------------------------------------------------------------
# Connections and headers


def guarded_protocol(header_timeout: float, max_connections: int):
    """uvicorn's h11 protocol with a header deadline and a cap on open connections (see the
    module's doc); pass it as `uvicorn.Config(http=...)`."""
    too_slow = raw_response(408, "Request Timeout", f"Request headers too slow: they must arrive within {header_timeout:g} s")
    too_many = raw_response(503, "Service Unavailable", "Too many connections: try again shortly")

    class Guarded(H11Protocol):
        waiting_since: float | None = None  # when it began waiting for a request's headers
        partial = False  # some of them have come
        header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections and not self._evict_one():
                self.connections.discard(self)
                transport.write(too_many)
                transport.close()
                return
            self._await_headers()

        def data_received(self, data: bytes) -> None:
            cycle, self.partial = self.cycle, True
            super().data_received(data)
            if self.cycle is not cycle:  # a request's headers are in: its body has its own deadline
                self._stop_waiting()

        def on_response_complete(self) -> None:
            cycle = self.cycle
            super().on_response_complete()
            if self.cycle is cycle and not self.transport.is_closing():
                self._await_headers()  # for the next request on this connection

        def send_400_response(self, msg: str) -> None:  # (h11 could not read the request: JSON too)
            self._close(raw_response(400, "Bad Request", "Invalid HTTP request (a broken request line, or headers over 16 KB)"))

        def connection_lost(self, exc) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._stop_waiting()
            self.waiting_since, self.partial = self.loop.time(), False
            self.header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            self.waiting_since = None
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if self.waiting_since is not None and not self.transport.is_closing():
                # (a connection that sent nothing is closed quietly, as after keep-alive)
                self._close(too_slow if self.partial and self.conn.our_state is h11.IDLE else b"")

        def _evict_one(self) -> bool:
            """Close the connection that has waited longest for headers, to make room."""
            idle = [c for c in self.connections if c is not self and getattr(c, "waiting_since", None) is not None]
            if not idle:
                return False
            min(idle, key=lambda c: c.waiting_since)._close(b"")
            return True

        def _close(self, answer: bytes) -> None:
            self._stop_waiting()
            self.connections.discard(self)
            if not self.transport.is_closing():
                if answer:
                    self.transport.write(answer)
                self.transport.close()

    return Guarded


def open_files_for(connections: int) -> tuple[int, int]:
    """(connections, backlog) that fit this process's limit on open files, raised up to its hard
    limit if needed. asyncio accepts up to `backlog` connections at a time before any of them can
    be turned away, and a closed socket is freed an iteration later: the cap leaves a quarter of
    the limit (64 to 512) to the server's own files and to those bursts, and the backlog is sized
    from what is left (8 to 2048; connections beyond it wait in the kernel)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return connections, 2048
    if soft < connections + 512:
        raised = connections + 512 if hard == resource.RLIM_INFINITY else min(connections + 512, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(raised, soft), hard))
            soft = max(raised, soft)
        except (ValueError, OSError):
            pass
    fit = max(0, min(connections, soft - min(512, max(64, soft // 4))))
    return fit, max(8, min(2048, (soft - fit - 32) // 4))
