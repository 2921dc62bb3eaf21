"""Reading a request of `seq2seq-serve`: a JSON or form body (LibreTranslate accepts both), the
API key, the texts, and each option checked against its allowed values. What cannot be read is an
`ApiError` (a 400 with one line saying why), never a 500."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException

from engine.text.glossary import Glossary
from repl.serve.limits import Limits
from repl.serve.routing import ApiError

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


async def fields(request) -> dict:
    """JSON body or form fields (LibreTranslate accepts both)."""
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
