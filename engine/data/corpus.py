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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs

from engine.data.files import CorpusError, Pair, chunks_of, read_anki
from engine.data.formats import CORPUS_SUFFIXES, PairStream, aligned_files, corpus_name
from engine.data.spool import CHUNK, PairSpool, temporary_spool
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
    train: list[Pair] | PairSpool  # (a PairSpool from load_split: on disk)
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


class CorpusReader:
    """One corpus by name or path, read as a stream of oriented pairs as often as needed (each
    pass reads the file again: a corpus of millions of pairs is never held whole), with the facts
    a run folder keeps of it (file, licence, counts)."""

    def __init__(self, spec: str, reverse: bool = False, skip_bad_lines: bool = False, seed: int = 1234,
                 simplify: bool = True, max_pairs: int | None = None):
        self.spec, self.reverse = spec, reverse
        if spec in SYNTHETIC_CORPORA:
            self.stream, source_file, licence = addition_pairs(max_pairs or 20000, seed), None, None
        else:
            path = resolve_corpus(spec, simplify)
            self.stream = PairStream(path, skip_bad_lines)
            # (the file's name: no machine's path in a run folder; the Anki files are Tatoeba's)
            source_file = corpus_name(str(path))
            licence = TATOEBA_LICENCE if Path(source_file).suffix.lower() in (".txt", ".zip") and "+" not in source_file else None
        self.facts = {"corpus": spec, "file": source_file, "reverse": reverse, "licence": licence}
        if spec.startswith(TATOEBA_PREFIX):
            self.facts["export"] = export_facts(path)

    @property
    def skipped(self) -> int:
        return getattr(self.stream, "skipped", 0)

    def __iter__(self) -> Iterator[Pair]:
        if not self.reverse:
            return iter(self.stream)
        return (Pair(p.target, p.source) for p in self.stream)


def pair_hashes(pairs: Iterable[Pair], done=lambda count: None) -> np.ndarray:
    """A 64-bit hash of each pair (N,) int64, in order: how duplicates are found among millions
    of pairs without a set of them (8 bytes a pair). Python's string hash (SipHash): the same
    within this process, which is all a preparation needs; two different pairs share one with
    odds of about 1 in 10^6 for 5 million pairs. done(count): the pairs read so far."""
    parts, count = [], 0
    for chunk in chunks_of(pairs, CHUNK):
        parts.append(np.fromiter((hash((p.source, p.target)) for p in chunk), np.int64, len(chunk)))
        count += len(chunk)
        done(count)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def first_occurrences(hashes: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each hash is the first of its value (exact duplicates go, order stays)."""
    order = np.argsort(hashes, kind="stable")  # (equal hashes stay in their order: the first is first)
    ordered = hashes[order]
    starts = np.ones(len(hashes), bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    del ordered
    keep = np.zeros(len(hashes), bool)
    keep[order[starts]] = True
    return keep


def among(hashes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each hash is in `known` (sorted, unique)."""
    if not len(known):
        return np.zeros(len(hashes), bool)
    at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
    return known[at] == hashes


def kept_pairs(reader: CorpusReader, max_pairs: int | None, done=lambda count: None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The first pass over a corpus: (hashes, which pairs are kept: exact duplicates dropped, at most
    `max_pairs` of them, facts: counts)."""
    hashes = pair_hashes(reader, done)
    keep = first_occurrences(hashes)
    duplicates = len(hashes) - int(keep.sum())
    if max_pairs is not None:
        keep &= np.cumsum(keep) <= max_pairs
    facts = {"pairs_read": len(hashes), "bad_lines_skipped": reader.skipped, "duplicates_dropped": duplicates,
             "pairs_used": int(keep.sum())}
    return hashes, keep, facts


def load_pairs(spec: str, reverse: bool = False, max_pairs: int | None = None, skip_bad_lines: bool = False, seed: int = 1234,
               simplify: bool = True) -> tuple[list[Pair], dict]:
    """A corpus read whole, oriented, without exact duplicates, capped at `max_pairs`: (pairs,
    facts for the run folder: file, counts, licence)."""
    reader = CorpusReader(spec, reverse, skip_bad_lines, seed, simplify, max_pairs)
    _, keep, facts = kept_pairs(reader, max_pairs)
    pairs = [pair for pair, kept in zip(reader, keep) if kept]
    return pairs, {**reader.facts, **facts}


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


def held_out_fractions(config, pairs: int) -> tuple[float, float]:
    """(valid, test) shares of a corpus of `pairs` pairs: the config's, lowered where they would
    hold more than `held_out_max` pairs (a million pairs at 5% would be 50,000 sentences to
    validate on every epoch, and held in memory)."""
    cap = getattr(config, "held_out_max", None)
    share = lambda fraction: fraction if not cap or fraction * pairs <= cap else cap / pairs  # noqa: E731
    return share(config.valid_fraction), share(config.test_fraction)


def load_split(config, extra: bool = True, keep_train: bool = True, scratch: str | Path | None = None,
               stage=lambda message: None, count=lambda done, total: None) -> tuple[Split, dict]:
    """The corpora a RunConfig names, loaded and split as its training saw it: the valid and test
    splits come from the first corpus only (exactly as with one corpus); every further corpus adds
    training pairs, without the pairs the first already has and without any pair that shares a
    sentence with a held-out pair (either side, compared by `sentence_key`). With
    `extra_valid_fraction`, that share of the further corpora's sources (keyed like the split) is
    held out as `valid_extra`, and no training pair shares a sentence with it either.
    extra=False reads the first corpus only (enough for the first corpus's held-out splits).

    Each corpus is read twice as a stream (hashes, then the pairs kept), and the training pairs go
    into a PairSpool on disk (engine/data/spool.py; in a temporary folder under `scratch`), so
    memory stays flat for millions of pairs; keep_train=False drops them (a caller that needs
    the held-out splits only). stage(message) and count(done, total) show each pass."""
    reader = lambda spec: CorpusReader(spec, config.reverse, config.skip_bad_lines, config.seed,  # noqa: E731
                                       getattr(config, "simplify", True), config.max_pairs)
    first = reader(config.corpus)
    name = corpus_name(config.corpus)
    stage(f"reading {name} …")
    hashes, keep, counts = kept_pairs(first, config.max_pairs, done=lambda done: count(done, None))
    facts = {**first.facts, **counts}
    valid_share, test_share = held_out_fractions(config, counts["pairs_used"])
    train, valid, test = temporary_spool(scratch), [], []
    stage(f"splitting {name} …")
    for done, chunk in enumerate(kept_chunks(first, keep), 1):
        rows = []
        for pair in chunk:
            bucket = split_bucket(pair.source, config.seed)
            (test if bucket < test_share else valid if bucket < test_share + valid_share else rows).append(pair)
        if keep_train:
            train.write(rows)
        count(min(done * CHUNK, len(keep)), len(keep))
    if valid_share != config.valid_fraction or test_share != config.test_fraction:
        facts["held_out_shares"] = {"valid": round(valid_share, 6), "test": round(test_share, 6)}
    extras = getattr(config, "extra_corpora", []) if extra else []
    if not extras:
        return Split(train if keep_train else [], valid, test), facts
    seen = np.unique(hashes[keep])  # (the pairs a further corpus must not repeat)
    del hashes, keep
    held_out = {sentence_key(t) for p in valid + test for t in (p.source, p.target)}
    valid_extra, facts["extra"] = [], []
    share = getattr(config, "extra_valid_fraction", 0.0)
    for spec in extras:
        more = reader(spec)
        stage(f"reading {corpus_name(spec)} …")
        hashes, keep, counts = kept_pairs(more, config.max_pairs, done=lambda done: count(done, None))
        fresh = keep & ~among(hashes, seen)
        more_facts, overlap, added, held = {**more.facts, **counts}, 0, 0, 0
        stage(f"splitting {corpus_name(spec)} …")
        for start, chunk in zip(range(0, len(keep), CHUNK), chunks_of(more, CHUNK)):
            rows = []
            for index, pair in enumerate(chunk, start):
                if not keep[index]:
                    continue
                overlapping = sentence_key(pair.source) in held_out or sentence_key(pair.target) in held_out
                overlap += overlapping
                if not fresh[index] or overlapping:
                    fresh[index] = False
                elif share and split_bucket(pair.source, config.seed + 1) < share:
                    valid_extra.append(pair)
                    held += 1
                else:
                    rows.append(pair)
            if keep_train:
                train.write(rows)
            added += len(rows)
            count(start + len(chunk), len(keep))
        more_facts["held_out_overlap_dropped"] = overlap
        more_facts["pairs_added"] = added
        if share:
            more_facts["held_out_as_valid_extra"] = held
        seen = np.union1d(seen, hashes[fresh])
        facts["extra"].append(more_facts)
    if valid_extra and keep_train:
        second = {sentence_key(t) for p in valid_extra for t in (p.source, p.target)}
        before, train = len(train), temporary_spool(scratch, (
            p for p in train if sentence_key(p.source) not in second and sentence_key(p.target) not in second))
        facts["valid_extra_overlap_dropped"] = before - len(train)
    return Split(train if keep_train else [], valid, test, valid_extra), facts


def kept_chunks(pairs: Iterable[Pair], keep: np.ndarray) -> Iterator[list[Pair]]:
    """The pairs whose `keep` is true, in chunks: one chunk for each CHUNK pairs read."""
    for start, chunk in zip(range(0, len(keep), CHUNK), chunks_of(pairs, CHUNK)):
        kept = keep[start : start + len(chunk)]
        yield [pair for pair, k in zip(chunk, kept) if k]

