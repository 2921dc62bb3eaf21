"""The training data of a run: the corpora's pairs as the model reads them (the text pipeline of
engine/text for subword runs, joined pairs, dictionary pairs, placeholders), its vocabularies,
and the batch plans of engine/training/batches.py."""

from __future__ import annotations

import ctypes
import gc
import shutil
import weakref
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path

import numpy as np

from engine.config import RunConfig
from engine.data.corpus import load_split
from engine.data.dictionary import word_pairs
from engine.data.encoded import FOLDER, EncodedDataError, EncodedWriter, load_encoded
from engine.data.files import Pair
from engine.data.spool import CHUNK, PREPARED, PairSpool, pair_chunks, remove_stale, scratch_folder, temporary_spool
from engine.data.synthetic import SYNTHETIC_TAG, synthetic_pairs, tagged
from engine.data.vocab import SUBWORD, SubwordVocab, TextColumn, Vocab, word_counts
from engine.evaluation.evaluate import name_lexicon
from engine.text.pipeline import normalised_chunks, normalised_pairs, protected_chunks, training_pairs
from engine.text.protect import PLACEHOLDERS
from engine.text.script import chinese_sides
from engine.training.batches import BatchPlan, Encoded, encode_pairs


def joined_pairs(pairs, fraction: float, seed: int, chinese_target: bool) -> Iterator[list[Pair]]:
    """round(fraction × len(pairs)) extra training pairs, a chunk at a time, each two random pairs
    joined (source with a space, target as Chinese joins: directly, else with a space). Short
    Tatoeba sentences let a decoder get by on a summary of the sentence; two sentences in one
    example make it find each part where it is, and show it inputs as long as the ones it does
    worst on. pairs: a list or a PairSpool (two positioned reads a pair)."""
    if not fraction or len(pairs) < 2:
        return
    rng = np.random.default_rng([seed, 7])
    joiner = "" if chinese_target else " "
    firsts = rng.integers(0, len(pairs), round(fraction * len(pairs)))
    seconds = rng.integers(0, len(pairs), len(firsts))
    for start in range(0, len(firsts), CHUNK):
        chunk = []
        for a, b in zip(firsts[start : start + CHUNK].tolist(), seconds[start : start + CHUNK].tolist()):
            first, second = pairs[a], pairs[b]
            chunk.append(Pair(f"{first.source} {second.source}", first.target + joiner + second.target))
        yield chunk


def text_pairs(config: RunConfig, split, synthetic: list[Pair] = (), sides: tuple[bool, bool] | None = None,
               normalised_train=None, count=lambda done, total: None, scratch=None) -> tuple[PairSpool | list[Pair], list[Pair], dict]:
    """The training and validation pairs as the model reads them. Subword runs: normalised, with
    joined pairs, dictionary pairs and synthetic pairs (engine/data/synthetic.py: tagged after their
    spans are protected) added, shared spans as placeholders (engine/text), the training pairs
    written into a PairSpool a chunk at a time (under `scratch`); other levels: as the corpus has
    them, with joined pairs (a list). sides: (source is Chinese, target is Chinese), as
    prepare_data decided them; normalised_train: split.train normalised (a PairSpool or list),
    where the caller has it; count(done, total): how many training pairs have their spans
    protected. Returns (train, valid, facts)."""
    chinese_source, chinese_target = sides or chinese_sides(split.train)
    if config.level != SUBWORD:
        train = list(split.train)
        return train + [p for chunk in joined_pairs(train, config.join_fraction, config.seed, chinese_target) for p in chunk], split.valid, {}
    train = normalised_train if normalised_train is not None else normalised_pairs(list(split.train))
    english_first = (Pair(p.target, p.source) for p in train) if chinese_source else iter(train)
    names = name_lexicon(english_first) if chinese_source != chinese_target and config.placeholders else {}
    dictionary = [Pair(*p) for p in word_pairs(config.dictionary_pairs, chinese_source, config.seed)] if config.dictionary_pairs else []
    joins = round(config.join_fraction * len(train)) if len(train) >= 2 else 0  # (as many as joined_pairs makes)
    added = chain(joined_pairs(train, config.join_fraction, config.seed, chinese_target), [dictionary])
    if config.placeholders:  # (normalised like the rest: joining two Chinese sentences with a space, 好。 你, is not)
        added = normalised_chunks(added, joins)
    total = len(train) + joins + len(dictionary)
    chunks = chain(pair_chunks(train), added)
    if config.placeholders:
        chunks = protected_chunks(chunks, chinese_source, names, config.seed, config.name_share)
    out, placeholders = temporary_spool(scratch), 0
    for chunk in chunks:
        out.write(chunk)
        placeholders += sum("⟦" in p.source for p in chunk)
        count(len(out), total)
    valid = normalised_pairs(split.valid)
    synthetic = normalised_pairs(list(synthetic))
    if config.placeholders:
        valid = training_pairs(valid, chinese_source, names, config.seed + 1, config.name_share)
        synthetic = training_pairs(synthetic, chinese_source, names, config.seed + 2, config.name_share)
    synthetic = tagged(synthetic) if config.synthetic_tag else synthetic
    out.write(synthetic)
    placeholders += sum("⟦" in p.source for p in synthetic)
    return out, valid, {"names_for_placeholders": names, "pairs_with_placeholders": placeholders, "dictionary_pairs": len(dictionary)}


def build_vocabs(config: RunConfig, train, corpus_pairs, chinese_side: tuple[bool, bool], count=lambda done, total: None):
    """The run's vocabularies, from its training pairs (a list or a PairSpool); the words the
    source side knows are those of the corpus's training split's sources, normalised (not the
    dictionary's), less those the target kept as they are where spans become placeholders:
    corpus_pairs, a list or PairSpool of them.
    chinese_side: (source is Chinese, target is Chinese), as prepare_data decided them."""
    if config.level != SUBWORD:
        return (
            Vocab.build((p.source for p in train), config.level, config.min_freq),
            Vocab.build((p.target for p in train), config.level, config.min_freq),
        )
    sides = []
    for texts, size, source, chinese in (
        (TextColumn(train, "source"), config.source_vocab_size, True, chinese_side[0]),
        (TextColumn(train, "target"), config.target_vocab_size, False, chinese_side[1]),
    ):
        kind = "char" if chinese and config.chinese_chars else "unigram"
        # only a source side is read without case: a target side is written with its capitals
        symbols = PLACEHOLDERS + ([SYNTHETIC_TAG] if source and config.back_translate and config.synthetic_tag else [])
        sides.append(SubwordVocab.train(texts, size, chinese, lowercase=source and not chinese, kind=kind, symbols=symbols,
                                        count_words=not source, done=lambda done, total=len(texts): count(done, total)))  # (source words: below)
    if not sides[0].chinese:  # the words the model knows are the corpus's (not the dictionary's)
        sides[0].words = word_counts(TextColumn(corpus_pairs), kept_out=config.placeholders)
    return sides[0], sides[1]


def batch_plans(config: RunConfig, train: tuple[Encoded, Encoded], valid: tuple[Encoded, Encoded] | None):
    """The training plan (shuffled) and the validation plan (in order; None without pairs)."""
    pad_to = 8 if config.jit_compile else 1
    plan = lambda sides, shuffle: BatchPlan(*sides, config.batch_size, config.seed, shuffle=shuffle, pad_to=pad_to)  # noqa: E731
    return plan(train, True), plan(valid, False) if valid is not None else None


def kept_data(run, stage, warn):
    """The run's encoded splits from its data/ folder, or None (a run from before it, or a
    damaged folder: then the data is prepared again, as before, and `warn` says why)."""
    try:
        kept = load_encoded(run.path)
    except EncodedDataError as err:
        warn(f"{err}: preparing the data again from the corpus")
        return None
    if kept is not None:
        stage(f"reading the run's prepared data ({FOLDER}/) …")
    return kept


def encoded_split(pairs, src_vocab: Vocab, tgt_vocab: Vocab, max_len: int | None, scratch, done=lambda count: None):
    """The training pairs (a list or a PairSpool) encoded a chunk at a time into a new folder under
    `scratch` (EncodedWriter: the run's data/ files, moved there when the run is saved), as
    memory-mapped Encoded (source, target)."""
    folder = scratch_folder(PREPARED, scratch)
    try:
        writer, finished = EncodedWriter(folder, "train"), 0
        for chunk in pair_chunks(pairs):
            writer.write(*encode_pairs(chunk, src_vocab, tgt_vocab, max_len))
            finished += len(chunk)
            done(finished)
        encoded = writer.close()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(encoded[0], shutil.rmtree, folder, True)  # (what is left of it once the data is no longer used)
    return encoded


def returned_to_the_system() -> None:
    """Give the memory the text stages freed back to the system before the batch plans are built
    (glibc keeps freed heap for reuse: after millions of short-lived strings, tens of MB that the
    process no longer uses stay resident). Elsewhere, nothing."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def prepare_data(config: RunConfig, vocabs: tuple[Vocab, Vocab] | None = None, stage=lambda message: None, run=None,
                 warn=lambda message: None, count=lambda done, total: None, scratch=None):
    """Corpus → split (+ synthetic pairs) → pairs as the model reads them → vocabularies (built on
    the train split unless given) → batch plans. stage(message): each stage as it starts
    (seq2seq-train shows them); count(done, total): how far the stage is, in pairs (a progress
    bar; total None while a corpus is first read); run: the run folder a resume reads: its encoded
    data (data/) when it has it, else its synthetic pairs; scratch: where the pairs wait on disk
    between stages (engine/data/spool.py; a temporary folder by default; the run's own disk is
    best). The split comes back without its training pairs for a subword run; a resume returns no
    split (None)."""
    kept = kept_data(run, stage, warn) if run is not None and vocabs is not None else None
    if kept is not None:
        return None, vocabs, *batch_plans(config, kept["train"], kept["valid"]), run.facts()
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
        for folder in remove_stale(scratch):
            warn(f"removed {folder.name}, left behind by a preparation that was killed")
    split, facts = load_split(config, scratch=scratch, stage=stage, count=count)
    sides = chinese_sides(split.train)  # decided once here; run.json keeps it
    synthetic, synthetic_facts = synthetic_pairs(config, split, run, stage, sides)
    facts["languages"] = {side: "zh" if chinese else "other" for side, chinese in zip(("source", "target"), sides)}
    normalised, split_sizes = split.train, {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)}
    if config.level == SUBWORD:
        stage(f"normalising {len(split.train):,} training pairs …")
        chunks = normalised_chunks(pair_chunks(split.train), len(split.train), done=lambda done: count(done, len(split.train)))
        normalised = temporary_spool(scratch, (pair for chunk in chunks for pair in chunk))
        split.train.close()
        split = replace(split, train=[])  # (the pairs as read are not needed again)
    stage(f"preparing {split_sizes['train'] + len(synthetic):,} training pairs: joining, protecting spans …")
    train_pairs, valid_pairs, text_facts = text_pairs(config, split, synthetic, sides, normalised, count, scratch)
    if vocabs is None:
        stage("training the vocabularies …")
        vocabs = build_vocabs(config, split.train if config.level != SUBWORD else train_pairs, normalised, sides, count)
    if config.level == SUBWORD:
        normalised.close()
    del normalised
    src_vocab, tgt_vocab = vocabs
    stage(f"encoding {len(train_pairs):,} training pairs and {len(valid_pairs):,} validation pairs …")  # (the bar counts the first)
    train_ids = encoded_split(train_pairs, src_vocab, tgt_vocab, config.max_len, scratch, done=lambda done: count(done, len(train_pairs)))
    if isinstance(train_pairs, PairSpool):
        train_pairs.close()
    returned_to_the_system()
    valid_ids = encode_pairs(valid_pairs, src_vocab, tgt_vocab)
    train_plan, valid_plan = batch_plans(config, train_ids, valid_ids if len(valid_ids[0]) else None)
    facts |= text_facts | synthetic_facts | {
        "split": split_sizes | ({"valid_extra": len(split.valid_extra)} if split.valid_extra else {}),
        "train_pairs_used": train_plan.size,
        "vocab": {"source": len(src_vocab), "target": len(tgt_vocab)},
        # the translator splits longer input and caps its output near these
        "max_source_tokens": int(train_ids[0].lengths.max()),
        "max_target_tokens": int(train_ids[1].lengths.max()) - 2,
    }
    return split, vocabs, train_plan, valid_plan, facts
