"""The `seq2seq-serve` application: Starlette with its middleware (the Host and cross-site guard
outermost, CORS, the body limit), the API's routes and the web page's, and `app.state`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from engine.memory.store import MemoryView
from engine.text.glossary import GlossaryCache
from repl.serve import site
from repl.serve.api import detect_route, health, languages, not_found, remember, server_error, settings, translate
from repl.serve.limits import BodyLimit, Limits, RateLimiter
from repl.serve.origins import OriginGuard
from repl.serve.settings import DEFAULTS


def create_app(batchers, source_lang: str = "en", target_lang: str = "zh", api_keys: set[str] | None = None,
               rate_limit: int = 0, limits: Limits | None = None, glossary=None, cors_origins=(), body_timeout: float = DEFAULTS["body_timeout"],
               allowed_hosts=None, memory=None):
    """The Starlette app over one batcher per direction: `batchers` maps (source, target)
    language codes to a repl.serve.batcher.Batcher, or is one Batcher for source_lang → target_lang.
    allowed_hosts: a repl.serve.origins.AllowedHosts (seq2seq-serve always gives one); None answers any
    Host and form posts from anywhere (an app mounted behind a proxy that checks them).
    memory: an engine.memory.store.TranslationMemory (POST /memory, lookups before the models), or None."""
    if not isinstance(batchers, dict):
        batchers = {(source_lang, target_lang): batchers}
    for (source, target), batcher in batchers.items():
        run = getattr(getattr(batcher.translator, "run", None), "path", None)
        batcher.memory = MemoryView(memory, f"{source}-{target}", run.name if run else "") if memory is not None else None
    limits = limits or Limits()
    middleware = [Middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout=body_timeout)]
    if cors_origins:
        middleware.insert(0, Middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"], allow_headers=["Content-Type"]))
    if allowed_hosts is not None:  # outermost: a request from the wrong place is refused before its body is read
        middleware.insert(0, Middleware(OriginGuard, hosts=allowed_hosts, cors_origins=cors_origins))
    app = Starlette(
        routes=[
            Route("/translate", translate, methods=["POST"]),
            Route("/detect", detect_route, methods=["POST"]),
            Route("/memory", remember, methods=["POST"]),
            Route("/languages", languages, methods=["GET"]),
            Route("/frontend/settings", settings, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            *site.routes(),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: not_found, Exception: server_error},
    )
    app.state.batchers, app.state.limits, app.state.api_keys = batchers, limits, api_keys
    app.state.limiter, app.state.glossary, app.state.closing = RateLimiter(rate_limit), glossary, False
    app.state.memory = memory
    app.state.glossaries = GlossaryCache()  # the requests' own glossaries, each built once
    app.state.default_target = next(iter(batchers))[1]
    return app
