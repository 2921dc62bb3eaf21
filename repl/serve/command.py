"""`seq2seq-serve`: a local HTTP translation API in LibreTranslate's dialect, and a web page.

Clients that speak LibreTranslate (editor plugins, browser extensions, bots, scripts) can point
at this server unchanged: `POST /translate`, `POST /detect`, `GET /languages`, plus `GET /health`;
`GET /` is a page to translate in a browser (repl/serve/site.py, repl/serve/web/).

Stack: Starlette on uvicorn. Starlette is the small ASGI toolkit FastAPI is built on; this API
has a few routes with LibreTranslate's own request shapes (JSON or form fields), so FastAPI's
schema layer would add a dependency (pydantic) without doing any of the work here. uvicorn is
the standard ASGI server: on SIGTERM it stops accepting connections and lets in-flight requests
finish, within `--shutdown-timeout`.

Where things are: the routes in repl/serve/api.py (and the page's in repl/serve/site.py) over `app.state`;
the dynamic batcher in repl/serve/batcher.py; the limits on keys, rates, bodies, headers and
connections in repl/serve/limits.py. Everything a command line can get wrong (port, host, ranges,
origins) is refused here, before the models load.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import math
import os
import signal
import socket
import sys
import threading
import time

import uvicorn

from repl.console import (
    UsageError,
    add_decode_options,
    at_least,
    console,
    decode_options,
    glossary_of,
    import_tensorflow,
    run_main,
)
from repl.models import Models
from repl.serve.api import language_of
from repl.serve.app import create_app
from repl.serve.batcher import Batcher
from repl.serve.limits import Limits, guarded_protocol, open_files_for, read_api_keys
from repl.serve.origins import AllowedHosts


def number_in(low: float, high: float, unit: str = ""):
    """An argparse type: a number from `low` to `high`, refused at parse time with the range named."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}{unit}, not {text}")
        return value

    return parse


def port_number(text: str) -> int:
    value = at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, not {value}")
    return value


def origins(text: str) -> list[str]:
    """--cors-origins: '*' or a comma-separated list of origins (scheme://host[:port])."""
    found = [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
    for origin in found:
        if origin != "*" and (origin.count("://") != 1 or not origin.split("://")[1] or "/" in origin.split("://")[1]):
            raise argparse.ArgumentTypeError(f"{origin!r} is not an origin (like http://localhost:8080, or *)")
    if not found:
        raise argparse.ArgumentTypeError("give '*' or origins separated by commas")
    return found


def host_names(text: str) -> list[str]:
    """--allowed-hosts: '*' or names (or addresses) separated by commas."""
    found = [name.strip() for name in text.split(",") if name.strip()]
    if not found or any(any(c in name for c in "/ @") for name in found):
        raise argparse.ArgumentTypeError(f"give '*' or host names separated by commas, not {text!r}")
    return found


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A usage error is one line (and exit 2), not the whole usage text."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="seq2seq-serve",
        description="Serve translations over HTTP with LibreTranslate's API (POST /translate, /detect; GET /languages, /health) and a web page (GET /).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=port_number, default=5000, help="port, 0–65535 (default: 5000; 0 picks a free one)")
    p.add_argument("--model", help="run folder: serve only it (default: the shipped model of each direction, else the newest run)")
    p.add_argument("--api-keys", metavar="FILE", help="require one of these keys (one a line) as api_key")
    p.add_argument("--char-limit", type=at_least(1), default=5000, help="most characters of q in one request (default: 5000)")
    p.add_argument("--batch-limit", type=at_least(1), default=64, help="most strings in a list q (default: 64)")
    p.add_argument("--req-limit", type=at_least(0), default=0, help="requests a minute per client address (default: 0, no limit)")
    p.add_argument("--queue-size", type=at_least(1), default=256, help="requests waiting for the decoder before 503 (default: 256)")
    p.add_argument("--batch-window-ms", type=number_in(0, 1000, " ms"), default=5.0, help="how long the decoder waits to gather requests, 0–1000 (default: 5)")
    limits = p.add_argument_group("limits on clients")
    limits.add_argument("--max-body-bytes", type=at_least(1024), default=1_000_000, help="largest request body; more is answered 413 before it is read (default: 1000000)")
    limits.add_argument("--max-connections", type=at_least(1), default=1000, help="open connections at once; beyond it the oldest idle one is closed, else 503 (default: 1000, fewer where the open-files limit is lower)")
    limits.add_argument("--header-timeout", type=number_in(0.1, 3600, " s"), default=10.0, help="seconds for a request's headers to arrive, else 408 (default: 10)")
    limits.add_argument("--body-timeout", type=number_in(0.1, 3600, " s"), default=30.0, help="seconds for a request's body to arrive, else 408 (default: 30)")
    limits.add_argument("--keep-alive", type=number_in(0.1, 3600, " s"), default=5.0, help="seconds an idle connection stays open (default: 5)")
    limits.add_argument("--shutdown-timeout", type=number_in(0.1, 3600, " s"), default=30.0, help="seconds SIGTERM waits for requests in flight before it stops anyway (default: 30)")
    limits.add_argument("--cors-origins", type=origins, metavar="ORIGINS", help="let pages of these origins call the API: '*' or a comma-separated list (default: none)")
    limits.add_argument("--allowed-hosts", type=host_names, metavar="NAMES", default=[], help="more names this server answers to in the Host header, comma-separated, or '*' for any (default: localhost, 127.0.0.1, ::1 and the --host address)")
    limits.add_argument("--file-lines", type=at_least(1), default=10_000, help="most lines (or texts between tags, or cues) of a file at /file (default: 10000)")
    limits.add_argument("--file-timeout", type=number_in(1, 86400, " s"), default=300.0, help="seconds a file at /file may take, reading to writing back; then 503 and the server goes on (default: 300)")
    add_decode_options(p)
    return p


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (not yet listening: connections are refused until the models
    are loaded). A host that does not resolve or is not this machine's is a usage error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise UsageError(f"--host {host}: not an address of this machine ({getattr(err, 'strerror', None) or err})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise OSError(f"{host}:{port} is in use; choose another --port") from None
        raise UsageError(f"--host {host} --port {port}: cannot listen there ({err.strerror or err})") from None
    sock.set_inheritable(True)
    return sock


def make_server(app, header_timeout: float = 10.0, max_connections: int = 1000, keep_alive: float = 5.0, shutdown_timeout: float = 30.0,
                backlog: int = 2048):
    """The uvicorn server of `app` with this server's limits (see repl/serve/limits.py); run it with
    `server.run(sockets=[a bound socket])`."""
    class Server(uvicorn.Server):
        """uvicorn's server that marks the app as closing (new requests on open connections get
        503) and never waits past the graceful-shutdown timeout for a connection to go away."""

        def handle_exit(self, sig, frame):
            app.state.closing = True
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets=None):
            try:
                await asyncio.wait_for(super().shutdown(sockets), self.config.timeout_graceful_shutdown + 2)
            except asyncio.TimeoutError:
                for connection in list(self.server_state.connections):
                    connection.transport.abort()

    return Server(uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, http=guarded_protocol(header_timeout, max_connections),
        timeout_keep_alive=keep_alive, timeout_graceful_shutdown=shutdown_timeout, lifespan="off", backlog=backlog,
    ))


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def run():
        sock = bind(args.host, args.port)  # before the models load: a bad --host or --port fails at once
        api_keys = read_api_keys(args.api_keys)
        glossary = glossary_of(args)
        connections, backlog = open_files_for(args.max_connections)
        if connections < min(args.max_connections, 16):
            raise UsageError(f"--max-connections {args.max_connections}: the open-files limit leaves room for {connections}; raise it (ulimit -n)")
        if connections < args.max_connections:
            console.print(f"[yellow]warning:[/] --max-connections {args.max_connections} lowered to {connections} by the open-files limit (ulimit -n)", soft_wrap=True)
        models = Models.for_session(args.model, options=decode_options(args))  # the shipped model of each direction, or --model
        import_tensorflow()
        from engine.decoding.translate import Translator  # (deferred: imports TensorFlow, seconds)

        batchers = {}
        for run_folder in models.runs.values():  # a server loads every model it serves before it listens
            translator = Translator(run_folder, graphs="dynamic", warn=lambda m: None)  # no request waits for a compilation
            translator.warm_up(decode_options(args))
            pair = tuple(language_of(vocab) for vocab in (translator.src_vocab, translator.tgt_vocab))
            batchers[pair] = Batcher(translator, args.queue_size, args.batch_window_ms / 1000)
        limits = Limits(args.char_limit, args.batch_limit, options=decode_options(args), max_body_bytes=args.max_body_bytes,
                        file_lines=args.file_lines, file_timeout=args.file_timeout)
        app = create_app(batchers, api_keys=api_keys, rate_limit=args.req_limit, limits=limits, glossary=glossary,
                         cors_origins=args.cors_origins or (), body_timeout=args.body_timeout,
                         allowed_hosts=AllowedHosts(args.host, args.allowed_hosts))
        server = make_server(app, args.header_timeout, connections, args.keep_alive, args.shutdown_timeout, backlog)
        # uvicorn re-raises the signal it stopped for once it is done; by then the stop was
        # graceful (in-flight requests answered), so it ends the process with status 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        threading.Thread(target=_announce, args=(server, args.host, sock, list(models.runs.values())), daemon=True).start()
        try:
            server.run(sockets=[sock])
        finally:
            stopped = all([batcher.close(timeout=2.0) for batcher in batchers.values()])
        console.print("stopped")
        if not stopped:  # a decode still running past the timeout: leave without waiting for it
            sys.stderr.flush()
            os._exit(0)

    return run_main(run)


def _announce(server, host, sock, runs) -> None:
    """One line on stderr once the socket listens (with the real port when --port 0)."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    served = " and ".join(str(run.path) for run in runs)
    console.print(f"serving {served} on http://{shown}:{port} (LibreTranslate API and a web page at /; Ctrl-C or SIGTERM stops)", soft_wrap=True)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
