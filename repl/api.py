"""The HTTP API of `seq2seq-serve`, in LibreTranslate's dialect, as module-level handlers over
`app.state` (what `create_app` puts there: the batchers, the limits, the keys, the glossary).

Routes: `POST /translate`, `POST /detect`, `GET /languages`, `GET /frontend/settings` (as
LibreTranslate has them), `GET /health`; the web page's routes are in repl/site.py.

Every answer is JSON. A request that cannot be read (not JSON, JSON of the wrong types, a broken
form, nesting too deep) is a 400 `{"error": ...}`; nothing a client sends gives a 500 or a
traceback.
"""

from __future__ import annotations

import functools
import json

from engine.text.glossary import GlossaryCache
from engine.text.htmldoc import HtmlDocument
from engine.text.script import han_share, script_of
from repl.console import console
from repl.limits import BodyLimit, Limits, RateLimiter
from repl.origins import OriginGuard
from repl.routing import ApiError, route, translate_many

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def detect(text: str) -> tuple[str, float]:
    """("zh" or "en", confidence 0–100): the script of the text as the tools route it
    (engine.direction.script_of), with the share of its letters in that script."""
    if not any(c.isalpha() for c in text):
        return "en", 0.0
    han = han_share(text)
    language = script_of(text) or "en"
    return language, round(100 * (han if language == "zh" else 1 - han), 1)


def language_of(vocab) -> str:
    """The language a vocabulary is in, by script: "zh" when most of its tokens are Han."""
    return "zh" if vocab.chinese else "en"


# ----------------------------------------------------------------------------------------------
# Reading a request


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


async def fields(request) -> dict:
    """JSON body or form fields (LibreTranslate accepts both)."""
    from starlette.exceptions import HTTPException

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(await request.body() or b"{}", parse_constant=_no_constants)
        except RecursionError:
            raise ApiError(400, "invalid JSON: nested too deeply") from None
        except ValueError as err:  # (JSONDecodeError, UnicodeDecodeError, NaN or Infinity)
            raise ApiError(400, f"invalid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the JSON body must be an object")
        return data
    if kind == "application/x-www-form-urlencoded":
        return _url_encoded(await request.body())
    if kind == "multipart/form-data":
        try:
            form = await request.form()
        except HTTPException as err:  # python-multipart's complaint, as Starlette passes it on
            raise ApiError(400, f"invalid form data: {err.detail}") from None
        except (ValueError, KeyError, UnicodeDecodeError) as err:
            raise ApiError(400, f"invalid form data: {err}") from None
        return _form_fields(form.multi_items())
    if not kind and not await request.body():
        return {}
    raise ApiError(400, f"unsupported content type {kind!r}; send JSON or form fields")


def _url_encoded(body: bytes) -> dict:
    """A form body as LibreTranslate reads it: UTF-8 whether percent-encoded or raw (`curl -d
    'q=你好吗'` sends raw UTF-8; Starlette's parser took those bytes as Latin-1)."""
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise ApiError(400, f"invalid form data: not UTF-8 (byte {err.start + 1})") from None
    return _form_fields(pairs)


def _form_fields(pairs) -> dict:
    """Form (key, value) pairs as fields: a repeated `q` is a list of texts, any other key its first value."""
    data: dict = {}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return {key: values if key == "q" and len(values) > 1 else values[0] for key, values in data.items()}


def check_access(request, data: dict) -> None:
    state = request.app.state
    if state.closing:
        raise ApiError(503, "shutting down")
    key = data.get("api_key")
    if key is not None and not isinstance(key, str):
        raise ApiError(400, "Invalid request: api_key must be a string")
    if state.api_keys is not None and key not in state.api_keys:
        raise ApiError(403, "Invalid API key")
    if not state.limiter.allow(request.client.host if request.client else "?"):
        raise ApiError(429, f"Too many requests: at most {state.limiter.per_minute} a minute")


def texts_of(data: dict, limits: Limits) -> tuple[list[str], bool]:
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
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "Invalid request: q is not valid Unicode (a lone surrogate)") from None
    return texts, as_list


def text_field(data: dict, name: str, default: str, allowed) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid request: {name} must be a string")
    if value not in allowed:
        if name == "format":
            raise ApiError(400, f"Invalid request: format must be {' or '.join(map(repr, allowed))}")
        raise ApiError(400, f"{value!r} is not supported; languages: {', '.join(LANGUAGE_NAMES)}")
    return value


def whole_number(data: dict, name: str, low: int, high: int) -> int:
    value = data.get(name, 0)
    if isinstance(value, float) and value.is_integer():  # (not inf or nan: is_integer is False for them)
        value = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 10:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"Invalid request: {name} must be a whole number")
    if not low <= value <= high:
        raise ApiError(400, f"Invalid request: {name} must be from {low} to {high}")
    return value


def flag(data: dict, name: str) -> bool:
    value = data.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise ApiError(400, f"Invalid request: {name} must be true or false")
    return value


def glossary_of(data: dict, state):
    """The request's `glossary` ({term: translation}) over the server's --glossary, or the
    server's alone when the request has none."""
    mapping = data.get("glossary")
    if mapping is None:
        return state.glossary
    from engine.text.glossary import Glossary

    if isinstance(mapping, str):  # (a form field: the object as JSON text)
        try:
            mapping = json.loads(mapping, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise ApiError(400, "Invalid request: glossary must be an object of term: translation") from None
    if not isinstance(mapping, dict):
        raise ApiError(400, "Invalid request: glossary must be an object of term: translation")
    if len(mapping) > state.limits.max_glossary_terms:
        raise ApiError(413, f"Too many glossary terms: at most {state.limits.max_glossary_terms} in one request")
    try:
        own = Glossary.from_mapping(mapping)
    except ValueError as err:
        raise ApiError(400, f"Invalid request: {err}") from None
    return state.glossaries.get({**(state.glossary.entries if state.glossary else {}), **own.entries})


# ----------------------------------------------------------------------------------------------
# Handlers


def answers(handler):
    """A route that answers `{"error": ...}` for every failure: its own status for an ApiError,
    500 and one line on stderr (no traceback anywhere) for anything else."""

    @functools.wraps(handler)
    async def answer(request):
        try:
            return await handler(request)
        except ApiError as err:
            return error_response(err.status, err.message)
        except Exception as err:
            console.print(f"[red]error:[/] {type(err).__name__} while serving {request.url.path}: {err}", soft_wrap=True, markup=True)
            return error_response(500, "internal error while translating")

    return answer


def error_response(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def _shaped(values: list, as_list: bool):
    return values if as_list else values[0]


@answers
async def translate(request):
    from starlette.responses import JSONResponse

    state = request.app.state
    data = await fields(request)
    check_access(request, data)
    texts, as_list = texts_of(data, state.limits)
    source = text_field(data, "source", "auto", ("auto", *LANGUAGE_NAMES))
    target = text_field(data, "target", state.default_target, tuple(LANGUAGE_NAMES))
    form = text_field(data, "format", "text", ("text", "html"))
    alternatives = whole_number(data, "alternatives", 0, state.limits.max_alternatives)
    scores, attention = flag(data, "scores"), flag(data, "attention")
    if form == "html" and (alternatives or scores or attention):
        raise ApiError(400, "Invalid request: alternatives, scores and attention are for format 'text'")
    glossary = glossary_of(data, state)
    detected = [detect(t) for t in texts] if source == "auto" else None
    if form == "html":
        documents = [HtmlDocument(t) for t in texts]  # (q is at most --char-limit characters: read in one linear pass)
        pieces = [d.texts for d in documents]
        if detected:
            detected = [detect(" ".join(p)) for p in pieces]
        units = [(p, d) for d, doc in enumerate(pieces) for p in doc]
        languages = [detect(p)[0] if detected and script_of(p) else (detected[d][0] if detected else source) for p, d in units]
        units = [p for p, _ in units]
    else:
        units, languages = texts, [d[0] for d in detected] if detected else [source] * len(texts)
    pairs = [route(unit, language, target, state.batchers) for unit, language in zip(units, languages)]
    options = state.limits.options.with_(n_best=alternatives + 1)
    if "rerank" in data:  # (absent: the server's --rerank, else each model's own default)
        options = options.with_(rerank=flag(data, "rerank"))
    outcomes = await translate_many(state, units, pairs, options, glossary, attention, own_glossary="glossary" in data)
    if form == "html":
        translated, start = [], 0
        for document, doc_pieces in zip(documents, pieces):
            translated.append(document.render([o.text for o in outcomes[start : start + len(doc_pieces)]]))
            start += len(doc_pieces)
    else:
        translated = [o.text for o in outcomes]
    body: dict = {"translatedText": _shaped(translated, as_list)}
    if alternatives:
        body["alternatives"] = _shaped([o.alternatives(alternatives) for o in outcomes], as_list)
    if scores:
        body["scores"] = _shaped([o.scores(alternatives) for o in outcomes], as_list)
    if attention:
        body["attention"] = _shaped([o.maps for o in outcomes], as_list)
    if detected:
        body["detectedLanguage"] = _shaped([{"language": lang, "confidence": conf} for lang, conf in detected], as_list)
    return JSONResponse(body)


@answers
async def detect_route(request):
    from starlette.responses import JSONResponse

    data = await fields(request)
    check_access(request, data)
    texts, as_list = texts_of(data, request.app.state.limits)
    return JSONResponse(_shaped([[{"language": lang, "confidence": conf}] for lang, conf in map(detect, texts)], as_list))


@answers
async def languages(request):
    from starlette.responses import JSONResponse

    pairs = request.app.state.batchers
    return JSONResponse([
        {"code": code, "name": name, "targets": [b for a, b in pairs if a == code]} for code, name in LANGUAGE_NAMES.items()
    ])


@answers
async def settings(request):
    """LibreTranslate's /frontend/settings: what a page needs to know about this server."""
    from starlette.responses import JSONResponse

    state = request.app.state
    limits = state.limits
    return JSONResponse({
        "charLimit": limits.char_limit, "batchLimit": limits.batch_limit, "maxAlternatives": limits.max_alternatives,
        "maxBodyBytes": limits.max_body_bytes, "keyRequired": state.api_keys is not None, "apiKeys": state.api_keys is not None,
        "filesTranslation": True, "supportedFilesFormat": [".txt", ".html", ".htm", ".srt"], "suggestions": False,
        "language": {"source": {"code": "auto", "name": "Auto Detect"},
                     "target": {"code": state.default_target, "name": LANGUAGE_NAMES[state.default_target]}},
    })


@answers
async def health(request):
    from starlette.responses import JSONResponse

    state = request.app.state
    queued = sum(batcher.jobs.qsize() for batcher in state.batchers.values())
    return JSONResponse({"status": "closing" if state.closing else "ok", "queued": queued})


async def not_found(request, err):
    status = getattr(err, "status_code", 404)
    return error_response(status, {404: "Not found", 405: "Method not allowed"}.get(status, getattr(err, "detail", "error")))


async def server_error(request, err):
    console.print(f"[red]error:[/] {type(err).__name__} while serving {request.url.path}: {err}", soft_wrap=True, markup=True)
    return error_response(500, "internal error while translating")


# ----------------------------------------------------------------------------------------------
# The application


def create_app(batchers, source_lang: str = "en", target_lang: str = "zh", api_keys: set[str] | None = None,
               rate_limit: int = 0, limits: Limits | None = None, glossary=None, cors_origins=(), body_timeout: float = 30.0,
               allowed_hosts=None):
    """The Starlette app over one batcher per direction: `batchers` maps (source, target)
    language codes to a repl.batcher.Batcher, or is one Batcher for source_lang → target_lang.
    allowed_hosts: a repl.origins.AllowedHosts (seq2seq-serve always gives one); None answers any
    Host and form posts from anywhere (an app mounted behind a proxy that checks them)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.routing import Route

    from repl import site

    if not isinstance(batchers, dict):
        batchers = {(source_lang, target_lang): batchers}
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
    app.state.glossaries = GlossaryCache()  # the requests' own glossaries, each built once
    app.state.default_target = next(iter(batchers))[1]
    return app
