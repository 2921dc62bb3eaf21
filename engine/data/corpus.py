"""Parallel corpora by name or path: named downloads, Tatoeba exports, a synthetic task, the
clean-up and the held-out splits (reading the files: engine/data/files.py).

A corpus is a list of `Pair(source, target)`. Everything here is plain Python (no TensorFlow), so
the command-line tools can validate a file before paying TensorFlow's import time.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from engine.data.files import CorpusError, Pair, read_anki
from engine.data.formats import CORPUS_SUFFIXES, aligned_files, corpus_name, read_corpus
from engine.data.tatoeba import export_facts, tatoeba_corpus

ANKI_URL = "https://www.manythings.org/anki/{name}.zip"
# Named corpora: any `xxx-eng` name of manythings.org/anki (cmn-eng, fra-eng, deu-eng, …).
TATOEBA_LICENCE = (
    "Sentence pairs from the Tatoeba Project (tatoeba.org), distributed by manythings.org/anki; "
    "licensed under CC-BY 2.0 France (creativecommons.org/licenses/by/2.0/fr/). "
    "Each line of the corpus carries its own attribution."
)
SYNTHETIC_CORPORA = ("addition",)
TATOEBA_PREFIX = "tatoeba:"
SPLITS = ("test", "valid", "valid-extra")  # the held-out splits a run can be scored on (valid-extra: see load_split)


@dataclass(frozen=True)
class Split:
    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    # pairs of the extra corpora held out as a second validation split (`extra_valid_fraction`):
    # sentences from outside the first corpus, so that a choice is not made on Anki-like text alone
    valid_extra: list[Pair] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Named corpora: downloaded once into a cache, verified, reused.


def corpus_cache_dir() -> Path:
    """Where named corpora live: $SEQ2SEQ_CORPORA, else the user cache directory."""
    override = os.environ.get("SEQ2SEQ_CORPORA")
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir("seq2seq")) / "corpora"


def _cached_corpus_file(name: str, cache: Path) -> Path | None:
    """An already present copy: `<cache>/<name>/<lang>.txt` (unpacked) or `<cache>/<name>.zip`."""
    lang = name.split("-")[0]
    for candidate in (cache / name / f"{lang}.txt", cache / f"{name}.zip"):
        if candidate.is_file():
            return candidate
    return None


def download_corpus(name: str, cache: Path) -> Path:
    """Download `<name>.zip` from manythings.org into the cache, atomically, and verify it."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CorpusError(f"{name}: cannot create the corpus cache {cache}: {err.strerror or err}") from err
    target = cache / f"{name}.zip"
    url = ANKI_URL.format(name=name)
    request = urllib.request.Request(url, headers={"User-Agent": "seq2seq (tatoeba corpus fetch)"})
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            shutil.copyfileobj(response, out)
        read_anki(tmp)  # verification: a readable zip holding one well-formed corpus
        os.replace(tmp, target)
    except Exception as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, CorpusError):
            raise CorpusError(f"{url}: downloaded file is not a valid Anki corpus: {err}") from err
        raise CorpusError(
            f"{name}: could not download {url}: {err} (corpus cache: {cache}; put the file there, "
            "set $SEQ2SEQ_CORPORA, or give a local path)"
        ) from err
    (cache / f"{name}.LICENSE.txt").write_text(TATOEBA_LICENCE + "\n", encoding="utf-8")
    return target


def resolve_corpus(spec: str, simplify: bool = True) -> Path:
    """A local path as given, a tatoeba:<a>-<b> corpus built from the tatoeba.org exports, or a
    named Anki corpus from the cache (downloading it the first time)."""
    if spec.startswith(TATOEBA_PREFIX):
        return tatoeba_corpus(spec[len(TATOEBA_PREFIX) :], corpus_cache_dir(), simplify)
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec or spec.lower().endswith(CORPUS_SUFFIXES) or aligned_files(spec) is not None:
        return path  # (a pair of aligned files stays one spec, `a.en+a.zh`)
    cache = corpus_cache_dir()
    found = _cached_corpus_file(spec, cache)
    return found if found is not None else download_corpus(spec, cache)


# ----------------------------------------------------------------------------------------------
# The synthetic `addition` corpus (the tutorial's "simple model" example), made locally.


def addition_pairs(count: int = 20000, seed: int = 1234, max_digits: int = 3) -> list[Pair]:
    """`count` distinct problems "a+b" → "a+b's sum", with a and b of 1..max_digits digits."""
    rng = random.Random(seed)
    limit = 10**max_digits
    seen: set[tuple[int, int]] = set()
    pairs = []
    while len(pairs) < min(count, limit * limit):
        a, b = rng.randrange(limit), rng.randrange(limit)
        if (a, b) not in seen:
            seen.add((a, b))
            pairs.append(Pair(f"{a}+{b}", str(a + b)))
    return pairs


# ----------------------------------------------------------------------------------------------
# Loading, cleaning and splitting.


def load_pairs(
    spec: str,
    reverse: bool = False,
    max_pairs: int | None = None,
    skip_bad_lines: bool = False,
    seed: int = 1234,
    simplify: bool = True,
) -> tuple[list[Pair], dict]:
    """Read a corpus by name or path, orient it, drop exact duplicates, cap it at `max_pairs`.

    Returns the pairs and a dict of facts for the run folder (file, counts, licence).
    """
    if spec in SYNTHETIC_CORPORA:
        pairs, skipped, source_file, licence = addition_pairs(max_pairs or 20000, seed), 0, None, None
    else:
        path = resolve_corpus(spec, simplify)
        pairs, skipped = read_corpus(path, skip_bad_lines)
        # (the file's name: no machine's path in a run folder; the Anki files are Tatoeba's)
        source_file = corpus_name(str(path))
        licence = TATOEBA_LICENCE if Path(source_file).suffix.lower() in (".txt", ".zip") and "+" not in source_file else None
    read = len(pairs)
    if reverse:
        pairs = [Pair(p.target, p.source) for p in pairs]
    pairs = list(dict.fromkeys(pairs))  # exact duplicates go, order stays
    duplicates = read - len(pairs)
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    facts = {
        "corpus": spec,
        "file": source_file,
        "reverse": reverse,
        "pairs_read": read,
        "bad_lines_skipped": skipped,
        "duplicates_dropped": duplicates,
        "pairs_used": len(pairs),
        "licence": licence,
    }
    if spec.startswith(TATOEBA_PREFIX):
        facts["export"] = export_facts(path)
    return pairs, facts


def split_bucket(source: str, seed: int) -> float:
    """A stable number in [0, 1) for a source sentence: the same on every machine and run."""
    digest = hashlib.sha1(f"{seed}\t{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_pairs(pairs: list[Pair], valid_fraction: float, test_fraction: float, seed: int) -> Split:
    """Deterministic split keyed on the source sentence.

    All pairs that share a source land in the same split, so a test source never appears in
    training and its several references stay together for multi-reference scoring.
    """
    train, valid, test = [], [], []
    for pair in pairs:
        bucket = split_bucket(pair.source, seed)
        if bucket < test_fraction:
            test.append(pair)
        elif bucket < test_fraction + valid_fraction:
            valid.append(pair)
        else:
            train.append(pair)
    return Split(train, valid, test)


def sentence_key(text: str) -> str:
    """A sentence compared without case, spaces or punctuation (how held-out sentences are kept
    out of the extra training data)."""
    return "".join(c for c in text.casefold() if c.isalnum())


def load_split(config, extra: bool = True) -> tuple[Split, dict]:
    """The corpora a RunConfig names, loaded and split as its training saw it: the valid and test
    splits come from the first corpus only (exactly as with one corpus); every further corpus adds
    training pairs, without the pairs the first already has and without any pair that shares a
    sentence with a held-out pair (either side, compared by `sentence_key`). With
    `extra_valid_fraction`, that share of the further corpora's sources (keyed like the split) is
    held out as `valid_extra`, and no training pair shares a sentence with it either.
    extra=False reads the first corpus only (enough for the first corpus's held-out splits)."""
    load = lambda spec: load_pairs(spec, config.reverse, config.max_pairs, config.skip_bad_lines, config.seed,  # noqa: E731
                                   getattr(config, "simplify", True))
    pairs, facts = load(config.corpus)
    split = split_pairs(pairs, config.valid_fraction, config.test_fraction, config.seed)
    extra = getattr(config, "extra_corpora", []) if extra else []
    if not extra:
        return split, facts
    held_out = {sentence_key(t) for p in split.valid + split.test for t in (p.source, p.target)}
    seen = set(pairs)
    train, valid_extra, facts["extra"] = list(split.train), [], []
    share = getattr(config, "extra_valid_fraction", 0.0)
    for spec in extra:
        more, more_facts = load(spec)
        kept = [p for p in more if p not in seen and sentence_key(p.source) not in held_out and sentence_key(p.target) not in held_out]
        more_facts["held_out_overlap_dropped"] = sum(
            sentence_key(p.source) in held_out or sentence_key(p.target) in held_out for p in more
        )
        seen.update(kept)
        second = [share and split_bucket(p.source, config.seed + 1) < share for p in kept]
        valid_here = [p for p, held in zip(kept, second) if held]
        kept = [p for p, held in zip(kept, second) if not held]
        more_facts["pairs_added"] = len(kept)
        if share:
            more_facts["held_out_as_valid_extra"] = len(valid_here)
        train.extend(kept)
        valid_extra.extend(valid_here)
        facts["extra"].append(more_facts)
    if valid_extra:
        second = {sentence_key(t) for p in valid_extra for t in (p.source, p.target)}
        before = len(train)
        train = [p for p in train if sentence_key(p.source) not in second and sentence_key(p.target) not in second]
        facts["valid_extra_overlap_dropped"] = before - len(train)
    return Split(train, split.valid, split.test, valid_extra), facts
