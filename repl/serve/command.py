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
    console,
    decode_options,
    glossary_of,
    import_tensorflow,
    run_main,
)
from repl.memory import add_memory_options, memory_of
from repl.models import Models
from repl.serve.api import language_of
from repl.serve.app import create_app
from repl.serve.batcher import Batcher
from repl.serve.limits import Limits, guarded_protocol, open_files_for, read_api_keys
from repl.serve.origins import AllowedHosts
from repl.serve.settings import DEFAULTS, SETTINGS, from_environment


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """A usage error is one line (and exit 2), not the whole usage text."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="seq2seq-serve",
        description="Serve translations over HTTP with LibreTranslate's API (POST /translate, /detect; GET /languages, /health) and a web page (GET /).",
    )
    groups = {None: p, "limits": p.add_argument_group("limits on clients")}
    for setting in SETTINGS:
        groups[setting.group].add_argument(setting.flag, **setting.argparse_options())
    add_decode_options(p)
    add_memory_options(p)
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


def make_server(app, header_timeout: float = DEFAULTS["header_timeout"], max_connections: int = DEFAULTS["max_connections"],
                keep_alive: float = DEFAULTS["keep_alive"], shutdown_timeout: float = DEFAULTS["shutdown_timeout"], backlog: int = 2048):
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
    def run():
        command = parser()
        command.set_defaults(**from_environment())  # (SEQ2SEQ_SERVE_CHAR_LIMIT=… and the like: the options' defaults)
        args = command.parse_args(argv)
        sock = bind(args.host, args.port)  # before the models load: a bad --host or --port fails at once
        api_keys = read_api_keys(args.api_keys)
        glossary = glossary_of(args)
        memory = memory_of(args)  # (a damaged memory file: a one-line error before the models load)
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
                         allowed_hosts=AllowedHosts(args.host, args.allowed_hosts), memory=memory)
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
