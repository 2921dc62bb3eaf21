"""A corpus built from tatoeba.org's own exports: every linked sentence pair of two languages,
not only the subset that the Anki files carry.

`tatoeba:eng-cmn` downloads, once, into the corpus cache:

    per_language/eng/eng_sentences.tsv.bz2    id<TAB>lang<TAB>text
    per_language/cmn/cmn_sentences.tsv.bz2
    per_language/eng/eng-cmn_links.tsv.bz2    id<TAB>id (one line per link)

and builds `tatoeba/eng-cmn.txt` in the Anki format (`source<TAB>target<TAB>attribution`, the
attribution naming both sentence ids), with one pair per linked sentence pair (a link listed in
both directions is one pair), duplicates dropped, and Mandarin written in simplified characters
when asked (`simplify`, OpenCC's t2s table). `tatoeba/eng-cmn.json` records each export file's
date and sha256, which the run card copies. Files already in the cache are used as they are
(put them there by hand on a machine without network).
"""

from __future__ import annotations

import bz2
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

from engine.data.files import CorpusError
from engine.text.direction import traditional_to_simplified

EXPORTS = "https://downloads.tatoeba.org/exports/per_language"
LICENCE = "Sentences from the Tatoeba Project (tatoeba.org), CC-BY 2.0 France; each line names its two sentence ids."
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org"  # + both sentence ids
_CODE = re.compile(r"^[a-z]{3}$")


def export_files(source: str, target: str) -> dict[str, str]:
    """file name in the cache → its URL."""
    return {
        f"{source}_sentences.tsv.bz2": f"{EXPORTS}/{source}/{source}_sentences.tsv.bz2",
        f"{target}_sentences.tsv.bz2": f"{EXPORTS}/{target}/{target}_sentences.tsv.bz2",
        f"{source}-{target}_links.tsv.bz2": f"{EXPORTS}/{source}/{source}-{target}_links.tsv.bz2",
    }


def parse_codes(name: str) -> tuple[str, str]:
    codes = name.split("-")
    if len(codes) != 2 or not all(_CODE.match(c) for c in codes) or codes[0] == codes[1]:
        raise CorpusError(f"tatoeba:{name}: expected two different three-letter Tatoeba language codes, like tatoeba:eng-cmn")
    return codes[0], codes[1]


def tatoeba_corpus(name: str, cache: Path, simplify: bool = True) -> Path:
    """The Anki-format file of `tatoeba:<name>` in the cache, built (and downloaded) if absent."""
    source, target = parse_codes(name)
    folder = cache / "tatoeba"
    built = folder / f"{source}-{target}{'' if simplify or 'cmn' not in (source, target) else '.traditional'}.txt"
    if built.is_file():
        return built
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CorpusError(f"tatoeba:{name}: cannot create the corpus cache {folder}: {err.strerror or err}") from err
    facts = {}
    for file_name, url in export_files(source, target).items():
        path = folder / file_name
        if not path.is_file():
            download(url, path)
        facts[file_name] = {"url": url, "sha256": sha256(path), "date": time.strftime("%Y-%m-%d", time.gmtime(path.stat().st_mtime))}
    files = list(export_files(source, target))
    pairs = build_pairs(folder / files[0], folder / files[1], folder / files[2], source, target, simplify and "cmn" in (source, target))
    write_pairs(built, pairs)
    facts = {"corpus": f"tatoeba:{name}", "simplified": simplify, "pairs": len(pairs), "files": facts, "licence": LICENCE}
    built.with_suffix(".json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return built


def export_facts(built: Path) -> dict:
    """The export dates and checksums recorded beside a built corpus ({} if none)."""
    try:
        return json.loads(Path(built).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def download(url: str, path: Path) -> None:
    """`url` to `path`, atomically (a failed download leaves nothing behind)."""
    request = urllib.request.Request(url, headers={"User-Agent": "seq2seq (tatoeba export fetch)"})
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=120) as response:
            shutil.copyfileobj(response, out)
            stamp = response.headers.get("Last-Modified")
        os.replace(tmp, path)
    except Exception as err:
        Path(tmp).unlink(missing_ok=True)
        raise CorpusError(
            f"could not download {url}: {err} (corpus cache: {path.parent}; put {path.name} there by hand, "
            "or set $SEQ2SEQ_CORPORA to a folder that has it)"
        ) from err
    if stamp:
        when = parsedate_to_datetime(stamp).timestamp()
        os.utime(path, (when, when))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lines(path: Path):
    """(line number, text) of a .bz2 (or plain) UTF-8 export file."""
    opener = bz2.open if path.suffix == ".bz2" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as err:
                    raise CorpusError(f"{path}:{number}: not valid UTF-8 (byte {err.start + 1})") from err
    except (OSError, EOFError) as err:
        raise CorpusError(f"{path}: cannot be read as a {'bz2 ' if path.suffix == '.bz2' else ''}export file ({err})") from err


def read_sentences(path: Path, lang: str) -> dict[int, str]:
    """id → text of a `<lang>_sentences.tsv` export (`id<TAB>lang<TAB>text`)."""
    sentences = {}
    for number, line in _lines(path):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 3 or not columns[0].isdigit():
            raise CorpusError(f"{path}:{number}: expected 'id<TAB>language<TAB>text'")
        if columns[1] == lang and columns[2].strip():
            sentences[int(columns[0])] = columns[2].strip()
    return sentences


def read_links(path: Path) -> list[tuple[int, int]]:
    links = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != 2 or not all(c.strip().isdigit() for c in columns):
            raise CorpusError(f"{path}:{number}: expected 'id<TAB>id'")
        links.append((int(columns[0]), int(columns[1])))
    return links


def build_pairs(source_file: Path, target_file: Path, links_file: Path, source: str, target: str,
                simplify: bool) -> list[tuple[str, str, str]]:
    """(source text, target text, attribution) for every linked pair, in link order: a link in
    either direction counts, each sentence pair once, and pairs with the same two texts once."""
    sources, targets = read_sentences(source_file, source), read_sentences(target_file, target)
    convert = _simplifier() if simplify else None
    seen_ids, seen_texts, pairs = set(), set(), []
    for a, b in read_links(links_file):
        if a in targets and b in sources:
            a, b = b, a
        if a not in sources or b not in targets or (a, b) in seen_ids:
            continue
        seen_ids.add((a, b))
        source_text, target_text = sources[a], targets[b]
        if convert is not None:
            source_text = convert(source_text) if source == "cmn" else source_text
            target_text = convert(target_text) if target == "cmn" else target_text
        if (source_text, target_text) in seen_texts:
            continue
        seen_texts.add((source_text, target_text))
        pairs.append((source_text, target_text, ATTRIBUTION + f" #{a} & #{b}"))
    return pairs


def _simplifier():
    return traditional_to_simplified().convert


def write_pairs(path: Path, pairs) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
        for row in pairs:
            out.write("\t".join(" ".join(c.split()) for c in row) + "\n")
    os.replace(tmp, path)
