"""The whole-document formats of `seq2seq-batch`: HTML and SRT (their text translated, markup and
timings kept; engine/text/formats.py), Markdown (code, links and front matter kept;
engine/text/markdown.py), and the localization formats: gettext catalogues (untranslated entries
filled and marked fuzzy; engine/text/catalogues.py) and XLIFF (a target for each untranslated
source; engine/text/xliff.py). Each is read whole, translated, and written at once."""

from __future__ import annotations

from engine.data.files import CorpusError
from engine.text.catalogues import Catalogue
from engine.text.direction import DIRECTIONS
from engine.text.formats import translate_html, translate_srt
from engine.text.markdown import MarkdownDocument
from engine.text.xliff import XliffDocument
from repl.memory import memory_note

SAMPLE_ROWS = 5
# INPUT's extension → its --format (what --format auto reads)
DOCUMENT_FORMATS = {".html": "html", ".htm": "html", ".srt": "srt", ".po": "po", ".pot": "po", ".xlf": "xliff", ".xliff": "xliff",
                    ".md": "md", ".markdown": "md"}
DOCUMENT_KINDS = tuple(dict.fromkeys(DOCUMENT_FORMATS.values()))


def new_stats() -> dict:
    """The counts of seq2seq-batch's summary table."""
    return {"lines": 0, "blank": 0, "unseen": 0, "long": 0, "sentences": 0, "simplified": 0, "samples": [], "hypotheses": [],
            "directions": {}, "mismatched": [], "remembered": 0, "fuzzy": 0, "confidence": {}, "low": []}


def counted_result(stats: dict, source: str, result, number: int | None = None) -> None:
    """A translated text's share of the summary: its confidence, and a sample row while few are kept
    (number: its line, for the table of low-confidence lines)."""
    if result.confidence:
        stats["confidence"][result.confidence] = stats["confidence"].get(result.confidence, 0) + 1
    if result.confidence == "low" and number is not None and len(stats["low"]) < SAMPLE_ROWS:
        stats["low"].append((number, source, result.text))
    if len(stats["samples"]) < SAMPLE_ROWS:
        stats["samples"].append((source, result.text, memory_note(result, short=True) if result.memory else "", result.confidence))


def read_document(handle, name: str, errors: str) -> str:
    """A whole HTML or SRT file as text, its line endings as they are (written back the same)."""
    raw = handle.read().removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8", errors)
    except UnicodeDecodeError as err:
        line, line_start = raw.count(b"\n", 0, err.start) + 1, raw.rfind(b"\n", 0, err.start) + 1
        raise CorpusError(f"{name}:{line}: not valid UTF-8 (byte {err.start - line_start + 1}); use --errors replace to replace such bytes") from err


def counted(args, models, stats: dict):
    """translate(texts) → each text's Translation (routed by its script), counted in `stats`."""

    def translate(texts: list[str]) -> list:
        routed = models.translate(texts, spinner=False, batch_size=args.batch_size)
        for text, way in zip(texts, routed):
            stats["lines"] += 1
            stats["directions"][way.direction] = stats["directions"].get(way.direction, 0) + 1
            stats["sentences"] += len(way.result.parts) > 1
            stats["remembered"] += way.result.from_memory
            counted_result(stats, text, way.result)
        return [way.result for way in routed]

    return translate


def translate_document(args, models, source, write) -> dict:
    """A document (DOCUMENT_KINDS) as a whole: its text translated (each piece routed by its
    script), its markup, timings or catalogue kept. Returns the statistics of the summary table."""
    stats = new_stats()
    translate = counted(args, models, stats)
    document = read_document(source, args.input, args.errors)
    if args.kind == "po":
        write(fill_po(args, models, document, stats, translate))
    elif args.kind == "xliff":
        write(fill_xliff(args, document, stats, translate))
    elif args.kind == "md":
        markdown = MarkdownDocument(document)
        write(markdown.render([r.text for r in translate(markdown.texts)]))
    elif args.kind == "html":
        write(translate_html(document, lambda texts: [r.text for r in translate(texts)]))
    else:
        write(translate_srt(document + "\n", lambda texts: [r.text for r in translate(texts)], args.input))
    return stats


def fill_po(args, models, document: str, stats: dict, translate) -> str:
    """A gettext catalogue with its untranslated entries filled (engine/text/catalogues.py)."""
    def target_of(msgid: str) -> str:  # (Plural-Forms for a template without them: the target language's)
        direction = models.direction_for(msgid)
        return direction.split("-")[1] if direction in DIRECTIONS else "zh"

    catalogue = Catalogue(document, args.input, target_of, overwrite=args.retranslate)
    results = translate(catalogue.texts) if catalogue.texts else []
    text = catalogue.render([r.text for r in results], [r.from_memory for r in results], [r.confidence == "low" for r in results])
    stats["catalogue"] = {"name": "catalogue entries", **catalogue.counts}
    return text


def fill_xliff(args, document: str, stats: dict, translate) -> str:
    """An XLIFF file with a target for each untranslated source (engine/text/xliff.py)."""
    xliff = XliffDocument(document, args.input, overwrite=args.retranslate)
    results = translate(xliff.texts) if xliff.texts else []
    text = xliff.render([r.text for r in results], [r.from_memory for r in results])
    counts = xliff.counts
    stats["catalogue"] = {"name": "XLIFF units", "entries": counts["units"], "filled": counts["filled"],
                          "fuzzy": counts["filled"] - counts["from memory"]}
    return text
