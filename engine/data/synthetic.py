"""Synthetic training pairs from monolingual text: back-translation and self-training.

A monolingual file (one sentence a line; anything after a TAB, such as Tatoeba's attribution, is
ignored) is translated by another run, `back_translate_with`, whose source language is the file's:

- target-language text through a model of the other direction is *back-translation*: the
  model's output is a synthetic source, the real sentence the target (`Pair(output, line)`);
- source-language text through a model of the same direction is *self-training*: the real
  sentence is the source, the model's output a synthetic target (`Pair(line, output)`).

Translations are written as they are made, a chunk at a time, to a cache keyed by what made them
(the file's and the model's SHA-256 and the beam), so an interrupted preparation continues where
it stopped and a second run with the same file and model reuses them. A run keeps its own copy
with the provenance (`synthetic/` in the run folder), which `--resume` reads. With
`synthetic_tag`, each synthetic pair's source starts with `SYNTHETIC_TAG`, a piece of its own: the
model learns that those pairs are machine-made and real input (never tagged) is not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from engine.config import DecodeOptions
from engine.data.corpus import sentence_key
from engine.data.files import CorpusError, Pair, file_lines
from engine.runs import RunFolder, named_run, write_atomic
from engine.text.script import SIDE_SAMPLE, chinese_sides, is_chinese

SYNTHETIC_TAG = "⟦bt⟧"  # (lower case: an English source is read without case)
CHUNK = 512  # sentences translated (and written) at a time
SUBFOLDER = "synthetic"


def synthetic_cache_dir() -> Path:
    """Where synthetic pairs are cached between runs: $SEQ2SEQ_SYNTHETIC, else the user cache."""
    override = os.environ.get("SEQ2SEQ_SYNTHETIC")
    return Path(override) if override else Path(platformdirs.user_cache_dir("seq2seq")) / SUBFOLDER


def monolingual_lines(path: str | Path) -> list[str]:
    """The sentences of a monolingual file: each line's text before any TAB, stripped; blank lines
    and repeats dropped (first kept). A file that cannot be read is a CorpusError naming it."""
    lines = (line.split("\t", 1)[0].strip() for line in file_lines(path))
    sentences = list(dict.fromkeys(line for line in lines if line))
    if not sentences:
        raise CorpusError(f"{path}: no sentences (a monolingual file has one sentence a line)")
    return sentences


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Provenance:
    """What made a cache of synthetic pairs; written beside it as JSON."""

    file: str  # the monolingual file's name
    file_sha256: str
    model: str  # the run that translated it, as the config names it
    model_sha256: str  # its best.keras
    beam: int
    mode: str  # back-translation or self-training
    sentences: int  # lines of the file (after blanks and repeats)
    done: int = 0  # lines translated so far

    @property
    def key(self) -> str:
        made_by = f"{self.file_sha256}:{self.model_sha256}:{self.beam}"  # (the same rows serve either mode)
        return f"{Path(self.file).stem}-{hashlib.sha256(made_by.encode()).hexdigest()[:16]}"

    def same_source(self, other: dict) -> bool:
        return all(other.get(k) == getattr(self, k) for k in ("file_sha256", "model_sha256", "beam", "sentences"))


def _translated(tsv: Path, provenance: Provenance) -> list[tuple[str, str]]:
    """The complete (line, output) rows of a cache whose provenance matches; [] otherwise. A torn
    last row (a crash while writing) is cut off the file."""
    meta = tsv.with_suffix(".json")
    if not (tsv.is_file() and meta.is_file()):
        return []
    try:
        if not provenance.same_source(json.loads(meta.read_text(encoding="utf-8"))):
            return []
    except (ValueError, OSError):
        return []
    data = tsv.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with open(tsv, "r+b") as handle:
            handle.truncate(len(complete))
    rows = [line.split("\t", 1) for line in complete.decode("utf-8").splitlines()]
    return [(row[0], row[1]) for row in rows if len(row) == 2]


def _save(provenance: Provenance, tsv: Path) -> None:
    write_atomic(tsv.with_suffix(".json"), json.dumps(provenance.__dict__, indent=2, ensure_ascii=False))


def _translate_into(tsv: Path, lines: list[str], rows: list[tuple[str, str]], provenance: Provenance, translator, stage) -> list[tuple[str, str]]:
    """Translate the `lines` after the `rows` the cache `tsv` already has (its `_translated`),
    into it, a chunk at a time; returns all rows."""
    tsv.parent.mkdir(parents=True, exist_ok=True)
    if not rows and tsv.exists():  # (a cache made by something else: begun again)
        tsv.unlink()
    options = DecodeOptions(beam=provenance.beam, alpha=1.0, rerank=False)  # plain beam search: what the cache key says
    with open(tsv, "a", encoding="utf-8") as out:
        for start in range(len(rows), len(lines), CHUNK):
            stage(f"{provenance.mode} of {provenance.file} by {provenance.model}: {start:,} / {len(lines):,} sentences …")
            chunk = lines[start : start + CHUNK]
            outputs = [t.text for t in translator.translate(chunk, options=options)]
            made = [(line, " ".join(text.split())) for line, text in zip(chunk, outputs)]
            out.write("".join(f"{line}\t{text}\n" for line, text in made))
            out.flush()
            os.fsync(out.fileno())
            rows.extend(made)
            provenance.done = len(rows)
            _save(provenance, tsv)
    return rows


def _mode(mono_chinese: bool, sides: tuple[bool, bool]) -> str:
    if sides[1] == mono_chinese:
        return "back-translation"
    if sides[0] == mono_chinese:
        return "self-training"
    raise CorpusError("a monolingual file must be in the run's target language (back-translation) or source language (self-training)")


def synthetic_pairs(config, split, run: RunFolder | None = None, stage=lambda message: None, sides=None) -> tuple[list[Pair], dict]:
    """The synthetic training pairs of `config.back_translate`: read from the run folder's copy
    (a resumed run), else from the cache, made there first where missing. At most
    `synthetic_ratio` × the real training pairs are used (a seeded sample); none that shares a
    sentence with a held-out split. Returns (pairs, facts for run.json: "synthetic" names each
    cache, see `keep_in_run`). sides: (source is Chinese, target is Chinese) of the run."""
    if not config.back_translate:
        return [], {}
    held_out = {sentence_key(t) for p in split.valid + split.test + split.valid_extra for t in (p.source, p.target)}
    pairs, facts, translator = [], [], None
    spec_run = named_run(config.back_translate_with)
    if spec_run is None:
        raise CorpusError(f"{config.back_translate_with}: not a trained run folder or shipped model (back_translate_with)")
    model_sha = file_sha256(spec_run.model_path())
    for path in config.back_translate:
        lines = monolingual_lines(path)
        mono_chinese = is_chinese("".join(lines[:SIDE_SAMPLE]))
        provenance = Provenance(Path(path).name, file_sha256(path), config.back_translate_with, model_sha,
                                config.back_translate_beam, _mode(mono_chinese, sides or chinese_sides(split.train)), len(lines))
        own = run.path / SUBFOLDER / f"{provenance.key}.tsv" if run is not None else None
        cache = synthetic_cache_dir() / f"{provenance.key}.tsv"
        rows = _translated(own, provenance) if own is not None else []
        if len(rows) < len(lines):
            rows = _translated(cache, provenance)
        if len(rows) < len(lines):
            if translator is None:
                from engine.decoding.translate import Translator  # (deferred: imports TensorFlow, seconds)

                stage(f"loading {spec_run.path} to translate {provenance.file} …")
                translator = Translator(spec_run, warn=lambda message: None)  # (a long line is cut: fine for training text)
                if translator.source_is_chinese != mono_chinese:
                    raise CorpusError(f"{path}: {spec_run.path} does not translate from this file's language")
            rows = _translate_into(cache, lines, rows, provenance, translator, stage)
        made = [Pair(out, line) if provenance.mode == "back-translation" else Pair(line, out) for line, out in rows if out]
        kept = [p for p in made if sentence_key(p.source) not in held_out and sentence_key(p.target) not in held_out]
        pairs.extend(kept)
        facts.append({**provenance.__dict__, "cache": provenance.key, "pairs": len(kept), "held_out_overlap_dropped": len(made) - len(kept)})
    limit = round(config.synthetic_ratio * len(split.train))
    if len(pairs) > limit:
        chosen = np.sort(np.random.default_rng([config.seed, 11]).permutation(len(pairs))[:limit])
        pairs = [pairs[i] for i in chosen]
    return pairs, {"synthetic": facts, "synthetic_pairs_used": len(pairs)}


def keep_in_run(run: RunFolder, synthetic_facts: list[dict]) -> None:
    """Copy the caches a run's synthetic pairs came from (its facts' "synthetic") into its folder
    (synthetic/, each with its provenance), where it has no copy yet."""
    for made in synthetic_facts:
        folder = run.path / SUBFOLDER
        for suffix in (".tsv", ".json"):
            cache, own = synthetic_cache_dir() / f"{made['cache']}{suffix}", folder / f"{made['cache']}{suffix}"
            if cache.is_file() and (not own.exists() or own.stat().st_size != cache.stat().st_size):
                folder.mkdir(exist_ok=True)
                shutil.copyfile(cache, run.own(own))


def tagged(pairs: list[Pair]) -> list[Pair]:
    """Synthetic pairs with the tag before the source (see the module's docstring)."""
    return [Pair(f"{SYNTHETIC_TAG} {p.source}", p.target) for p in pairs]
