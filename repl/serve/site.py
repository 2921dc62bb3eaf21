"""The web page of `seq2seq-serve` and the routes only it uses.

- `GET /` the page (repl/serve/web/index.html; its script and style under `/static/`): files inside the
  package, nothing fetched from elsewhere (its Content-Security-Policy allows this server only).
- `GET /info` the model card of each model served, with its training curve (metrics.csv).
- `POST /file` a text, HTML, SRT, gettext (.po/.pot), XLIFF or Markdown file (multipart field
  `file`; the formats of seq2seq-batch, read by the same code) translated in chunks, answered
  as lines of JSON (`application/x-ndjson`): `{"done": n, "total": m}` as chunks finish, then
  `{"done": m, "total": m, "name": ..., "text": ...}`, or `{"error": ...}`. The server's limits
  apply: the body cap, keys, the rate limit (one request), the queue, and chunks of at most
  `--batch-limit` strings and `--char-limit` characters; a line (or a text between tags, or a
  cue) over `--char-limit` characters, or more than `--file-lines` of them, is a 413 naming it.
  The file is read and written back in a worker thread, never on the event loop, and the whole
  request has `--file-timeout` seconds: past them it is a 503 (before the first chunk) or an
  `{"error": ...}` line, and the server goes on with everything else.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import time
from pathlib import Path

from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.text.catalogues import Catalogue, CatalogueError
from engine.text.formats import FormatError
from engine.text.htmldoc import HtmlDocument, TooSlow
from engine.text.markdown import MarkdownDocument
from engine.text.script import script_of
from engine.text.subtitles import Subtitles
from engine.text.xliff import XliffDocument, XliffError
from repl.console import console
from repl.documents import DOCUMENT_FORMATS
from repl.serve.api import answers
from repl.serve.fields import check_access, fields, text_field
from repl.serve.routing import ApiError, route, translate_many

WEB = Path(__file__).parent / "web"
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
FILE_KINDS = {".txt": "text", ".text": "text", "": "text", **DOCUMENT_FORMATS}  # (the formats seq2seq-batch reads whole)
OTHER = {"en": "zh", "zh": "en"}


def routes() -> list:
    return [
        Route("/", page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=WEB), name="static"),
        Route("/info", info, methods=["GET"]),
        Route("/file", translate_file, methods=["POST"]),
    ]


async def page(request):
    headers = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    return HTMLResponse((WEB / "index.html").read_text(encoding="utf-8"), headers=headers)


# ----------------------------------------------------------------------------------------------
# Model cards


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def _text(value):
    return value if isinstance(value, str) else None


def curve(run) -> dict | None:
    """metrics.csv as columns ({"epoch": [...], "val_loss": [...], ...}; a value that is not a
    number is None), or None when the run has none it can read (a link is not followed)."""
    path = run.metrics_path
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            return None
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    columns: dict[str, list] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(name, str):
                try:
                    columns.setdefault(name, []).append(_number(float(value)))
                except (TypeError, ValueError):
                    columns.setdefault(name, []).append(None)
    return columns or None


def model_card(pair, translator) -> dict:
    """The facts the chat's /info shows (repl/cards.py), as JSON; a run folder is named, never
    its path, and so is a corpus file."""
    card = {"direction": f"{pair[0]}-{pair[1]}"}
    run, config, model = (getattr(translator, name, None) for name in ("run", "config", "model"))
    if run is None:
        return card
    try:
        facts, scores = run.facts(), run.evaluation()
    except ValueError:  # a damaged run.json or eval.json: the card says what it can
        facts, scores = {}, {}
    split = facts.get("split") if isinstance(facts.get("split"), dict) else {}
    vocab = facts.get("vocab") if isinstance(facts.get("vocab"), dict) else {}
    corpora = [config.corpus, *config.extra_corpora] if config is not None else []
    seconds = _number(facts.get("training_seconds"))
    card.update({
        "name": run.path.name, "corpus": " + ".join(Path(c).name for c in corpora if isinstance(c, str)) or None,
        "training_pairs": _number(split.get("train")),
        "model": f"{model.describe()}; {config.level} level" if hasattr(model, "describe") else None,
        "parameters": _number(facts.get("params")),
        "vocabulary": {"source": _number(vocab.get("source")), "target": _number(vocab.get("target"))},
        "epochs": _number(facts.get("epochs_done")), "training_minutes": round(seconds / 60, 1) if seconds else None,
        "licence": _text(facts.get("licence")), "scores": {}, "curve": curve(run),
    })
    for name, report in scores.items():
        if isinstance(report, dict):
            decoding = report.get("decoding") if isinstance(report.get("decoding"), dict) else {}
            card["scores"][name] = {"bleu": _number(report.get("bleu")), "chrf": _number(report.get("chrf")),
                                    "beam": _number(decoding.get("beam")), "signature": _text(report.get("bleu_signature"))}
    return card


@answers
async def info(request):
    batchers = request.app.state.batchers
    return JSONResponse({"models": [model_card(pair, batcher.translator) for pair, batcher in batchers.items()]})


# ----------------------------------------------------------------------------------------------
# Files


_NEWLINE = re.compile(r"\r\n|\r|\n")


def file_pieces(kind: str, document: str, name: str, deadline: float | None = None, target: str = "auto"):
    """(texts to translate, the line each starts on, render(translations) → the translated
    document). Linear in the document; TooSlow past `deadline` (time.monotonic()). `target`: the
    language asked for ("auto": each text's other language)."""
    if kind == "html":
        doc = HtmlDocument(document, deadline)
        return doc.texts, doc.lines(), doc.render
    if kind == "srt":
        subtitles = Subtitles(document, name)  # FormatError: a 400
        return subtitles.texts, subtitles.text_lines, subtitles.render
    if kind in ("po", "xliff", "md"):
        return localization_pieces(kind, document, name, target)
    ending = _NEWLINE.search(document)
    newline = ending.group() if ending else "\n"
    texts = _NEWLINE.split(document)
    return texts, list(range(1, len(texts) + 1)), newline.join


def localization_pieces(kind: str, document: str, name: str, target: str):
    """file_pieces for a gettext catalogue, an XLIFF file or Markdown (CatalogueError, XliffError: a 400)."""
    if kind == "po":
        catalogue = Catalogue(document, name, lambda msgid: target if target != "auto" else OTHER.get(script_of(msgid) or "en", "zh"))
        first_line = {}
        for entry in catalogue.entries:
            for line in "\n".join([entry.msgid, entry.msgid_plural or ""]).split("\n"):
                first_line.setdefault(line.strip(), entry.linenum)
        return catalogue.texts, [first_line.get(text, 1) for text in catalogue.texts], catalogue.render
    if kind == "xliff":
        xliff = XliffDocument(document, name)
        return xliff.texts, [unit.line for unit, source, _ in xliff.sources for _ in source.texts], xliff.render
    markdown = MarkdownDocument(document)
    return markdown.texts, markdown.text_lines(), markdown.render


def check_file_size(texts: list[str], lines: list[int], name: str, limits) -> None:
    """Every limit on text applies to a file's texts too (413, naming the line)."""
    if len(texts) > limits.file_lines:
        raise ApiError(413, f"{name}: {len(texts):,} lines (or texts) to translate; at most {limits.file_lines:,} in one file")
    for text, line in zip(texts, lines):
        if len(text) > limits.char_limit:
            raise ApiError(413, f"{name}:{line}: {len(text):,} characters in one line; at most {limits.char_limit:,}")


def file_routes(texts: list[str], source: str, target: str, served) -> list:
    """Each text's pair; with source and target "auto", each goes to the model of its script (a
    text without letters the way the one before went), as seq2seq-batch sends lines."""
    language, pairs = next(iter(served))[0], []
    for text in texts:
        language = source if source != "auto" else (script_of(text) or language)
        reads, wanted = language, target
        if target == "auto":
            takes = [b for a, b in served if a == language]
            if takes:
                wanted = takes[0]
            elif len(served) == 1:  # one model: every text goes to it, as with --model
                reads, wanted = next(iter(served))
            else:
                wanted = OTHER.get(language, language)
        pairs.append(route(text, reads, wanted, served))
    return pairs


def chunks(indices: list[int], texts: list[str], most: int, characters: int):
    """Runs of `indices` of at most `most` texts and `characters` characters (a longer text alone)."""
    run, size = [], 0
    for i in indices:
        if run and (len(run) == most or size + len(texts[i]) > characters):
            yield run
            run, size = [], 0
        run.append(i)
        size += len(texts[i])
    if run:
        yield run


def output_name(name: str, pairs: list) -> str:
    path = Path(Path(name).name or "file.txt")
    targets = {pair[1] for pair in pairs if pair is not None}
    return f"{path.stem}.{targets.pop() if len(targets) == 1 else 'translated'}{path.suffix or '.txt'}"


@answers
async def translate_file(request):
    state = request.app.state
    data = await fields(request)
    check_access(request, data)
    upload = data.get("file")
    if upload is None or isinstance(upload, str) or not hasattr(upload, "read"):
        raise ApiError(400, "Invalid request: send the file as the multipart field 'file'")
    name = Path(upload.filename or "file.txt").name
    kind = FILE_KINDS.get(Path(name).suffix.lower())
    if kind is None:
        raise ApiError(400, f"{name}: not a file this server translates ({', '.join(k for k in FILE_KINDS if k)})")
    raw = await upload.read()
    try:
        document = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ApiError(400, f"{name}: not UTF-8 text (byte {err.start + 1})") from None
    source = text_field(data, "source", "auto", ("auto", "en", "zh"))
    target = text_field(data, "target", "auto", ("auto", "en", "zh"))
    deadline = time.monotonic() + state.limits.file_timeout
    try:
        texts, lines, render = await asyncio.to_thread(file_pieces, kind, document, name, deadline, target)
    except (FormatError, CatalogueError, XliffError) as err:
        raise ApiError(400, str(err)) from None
    except TooSlow:
        raise ApiError(503, f"{name}: not read within the server's time for a file ({state.limits.file_timeout:g} s)") from None
    check_file_size(texts, lines, name, state.limits)
    pairs = file_routes(texts, source, target, state.batchers)
    stream = _progress(state, texts, pairs, render, output_name(name, pairs), deadline)
    return StreamingResponse(stream, media_type="application/x-ndjson")


async def _progress(state, texts, pairs, render, name, deadline):
    todo = [i for i, pair in enumerate(pairs) if pair is not None]
    out, done = list(texts), 0
    line = lambda **fields: (json.dumps(fields, ensure_ascii=False) + "\n").encode()  # noqa: E731
    yield line(done=0, total=len(todo))
    try:
        for rows in chunks(todo, texts, state.limits.batch_limit, state.limits.char_limit):
            if time.monotonic() > deadline:
                raise ApiError(503, f"{name}: not translated within the server's time for a file ({state.limits.file_timeout:g} s)")
            for attempt in range(100):  # a full queue: wait for room (other clients come first)
                try:
                    outcomes = await translate_many(state, [texts[i] for i in rows], [pairs[i] for i in rows], state.limits.options, state.glossary)
                    break
                except ApiError as err:
                    if err.status != 503 or state.closing or attempt == 99:
                        raise
                    await asyncio.sleep(0.1)
            for i, outcome in zip(rows, outcomes):
                out[i] = outcome.text
            done += len(rows)
            yield line(done=done, total=len(todo))
        yield line(done=done, total=len(todo), name=name, text=await asyncio.to_thread(render, out))
    except ApiError as err:
        yield line(error=err.message)
    except Exception as err:
        console.print(f"[red]error:[/] {type(err).__name__} while translating a file: {err}", soft_wrap=True, markup=True)
        yield line(error="internal error while translating")
