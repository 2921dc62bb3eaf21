"""The HTTP API of `seq2seq-serve`, in LibreTranslate's dialect, as module-level handlers over
`app.state` (what `create_app` puts there: the batchers, the limits, the keys, the glossary).

Routes: `POST /translate`, `POST /detect`, `GET /languages`, `GET /frontend/settings` (as
LibreTranslate has them), `GET /health`; the web page's routes are in repl/serve/site.py.

Every answer is JSON. A request that cannot be read (not JSON, JSON of the wrong types, a broken
form, nesting too deep) is a 400 `{"error": ...}`; nothing a client sends gives a 500 or a
traceback.
"""

from __future__ import annotations

import functools

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from engine.text.htmldoc import HtmlDocument
from engine.text.script import han_share, script_of
from repl.console import console
from repl.documents import DOCUMENT_FORMATS
from repl.serve.fields import (
    LANGUAGE_NAMES,
    check_access,
    fields,
    flag,
    glossary_of,
    text_field,
    texts_of,
    whole_number,
)
from repl.serve.routing import ApiError, route, translate_many


def detect(text: str) -> tuple[str, float]:
    """("zh" or "en", confidence 0–100): the script of the text as the tools route it
    (engine.text.script.script_of), with the share of its letters in that script."""
    if not any(c.isalpha() for c in text):
        return "en", 0.0
    han = han_share(text)
    language = script_of(text) or "en"
    return language, round(100 * (han if language == "zh" else 1 - han), 1)


def language_of(vocab) -> str:
    """The language a vocabulary is in, by script: "zh" when most of its tokens are Han."""
    return "zh" if vocab.chinese else "en"


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
    return JSONResponse({"error": message}, status_code=status)


def _shaped(values: list, as_list: bool):
    return values if as_list else values[0]


@answers
async def translate(request):
    state = request.app.state
    data = await fields(request)
    check_access(request, data)
    texts, as_list = texts_of(data, state.limits)
    source = text_field(data, "source", "auto", ("auto", *LANGUAGE_NAMES))
    target = text_field(data, "target", state.default_target, tuple(LANGUAGE_NAMES))
    form = text_field(data, "format", "text", ("text", "html"))
    alternatives = whole_number(data, "alternatives", 0, state.limits.max_alternatives)
    scores, attention, confidence = flag(data, "scores"), flag(data, "attention"), flag(data, "confidence")
    if form == "html" and (alternatives or scores or attention or confidence):
        raise ApiError(400, "Invalid request: alternatives, scores, attention and confidence are for format 'text'")
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
    use_memory = flag(data, "memory") if "memory" in data else True
    outcomes = await translate_many(state, units, pairs, options, glossary, attention, own_glossary="glossary" in data, memory=use_memory)
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
    if confidence:  # low / medium / high (engine/decoding/confidence.py); null: passed through or not judged
        body["confidence"] = _shaped([getattr(o.result, "confidence", None) for o in outcomes], as_list)
    matches = [o.memory() for o in outcomes] if form == "text" else []
    if any(matches):  # (absent otherwise: LibreTranslate's answer as it is)
        body["memory"] = _shaped(matches, as_list)
    if detected:
        body["detectedLanguage"] = _shaped([{"language": lang, "confidence": conf} for lang, conf in detected], as_list)
    return JSONResponse(body)


@answers
async def remember(request):
    """POST /memory {q, translation, source, target}: keep a person's translation of q; every
    tool serves it exactly from now on. Answers the entry kept."""
    state = request.app.state
    if state.memory is None:
        raise ApiError(403, "this server keeps no translation memory (it was started with --no-memory)")
    data = await fields(request)
    check_access(request, data)
    texts, as_list = texts_of(data, state.limits)
    translation = data.get("translation")
    if as_list or not isinstance(translation, str) or not texts[0].strip() or not translation.strip():
        raise ApiError(400, "Invalid request: q and translation must be non-empty strings")
    if len(translation) > state.limits.char_limit:
        raise ApiError(413, f"Too many characters: at most {state.limits.char_limit} in one request")
    source = text_field(data, "source", "auto", ("auto", *LANGUAGE_NAMES))
    target = text_field(data, "target", state.default_target, tuple(LANGUAGE_NAMES))
    pair = (detect(texts[0])[0] if source == "auto" else source, target)
    if pair not in state.batchers:
        raise ApiError(400, f"no model here translates {pair[0]} to {target}, so there is nothing to correct")
    view = state.batchers[pair].memory
    entry = await run_in_threadpool(view.correct, texts[0], translation)  # (a busy database waits in a thread, not in the event loop)
    return JSONResponse({"source": entry.source, "translation": entry.target, "direction": entry.direction, "origin": entry.origin,
                         "model": entry.model, "time": entry.time})


@answers
async def detect_route(request):
    data = await fields(request)
    check_access(request, data)
    texts, as_list = texts_of(data, request.app.state.limits)
    return JSONResponse(_shaped([[{"language": lang, "confidence": conf}] for lang, conf in map(detect, texts)], as_list))


@answers
async def languages(request):
    pairs = request.app.state.batchers
    return JSONResponse([
        {"code": code, "name": name, "targets": [b for a, b in pairs if a == code]} for code, name in LANGUAGE_NAMES.items()
    ])


@answers
async def settings(request):
    """LibreTranslate's /frontend/settings: what a page needs to know about this server."""
    state = request.app.state
    limits = state.limits
    return JSONResponse({
        "charLimit": limits.char_limit, "batchLimit": limits.batch_limit, "maxAlternatives": limits.max_alternatives,
        "maxBodyBytes": limits.max_body_bytes, "keyRequired": state.api_keys is not None, "apiKeys": state.api_keys is not None,
        "filesTranslation": True, "supportedFilesFormat": [".txt", *DOCUMENT_FORMATS], "suggestions": False,
        "memory": state.memory is not None,
        "language": {"source": {"code": "auto", "name": "Auto Detect"},
                     "target": {"code": state.default_target, "name": LANGUAGE_NAMES[state.default_target]}},
    })


@answers
async def health(request):
    state = request.app.state
    queued = sum(batcher.jobs.qsize() for batcher in state.batchers.values())
    return JSONResponse({"status": "closing" if state.closing else "ok", "queued": queued})


async def not_found(request, err):
    status = getattr(err, "status_code", 404)
    return error_response(status, {404: "Not found", 405: "Method not allowed"}.get(status, getattr(err, "detail", "error")))


async def server_error(request, err):
    console.print(f"[red]error:[/] {type(err).__name__} while serving {request.url.path}: {err}", soft_wrap=True, markup=True)
    return error_response(500, "internal error while translating")
