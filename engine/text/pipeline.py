"""The text pipeline of one run, for training pairs and for what users type.

Training (`training_pairs`): both sides normalised; spans standing on both sides become the same
placeholder. Translation (`TextPipeline.prepare` → model → `TextPipeline.finish`): a line is
normalised, cut into sentences, each sentence's spans protected (numbers, URLs, e-mails, glossary
terms, names the model never saw, Latin words in Chinese); after decoding the spans are restored
and the sentences rejoined. Runs trained before subwords (char and word levels) keep their own
behaviour (`legacy`): no normalisation, no placeholders, a line split only when it is longer
than the model was trained on.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field

from engine.data import dictionary
from engine.data.files import Pair
from engine.data.parallel import each, streamed
from engine.data.spool import CHUNK, pair_chunks
from engine.text import names
from engine.text.conversions import chinese_to_english, english_to_chinese
from engine.text.normalise import chinese_punctuation, normalise
from engine.text.protect import Protected, apply_spans, find_spans, restore, single_spaced, split_overflow
from engine.text.segment import join_sentences, split_sentences
from engine.text.shared_spans import protect_pair

# Where a long line of a legacy run is cut (its models never learnt segmentation).
LEGACY_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s*")


def normalised_pairs(pairs: list[Pair], done=lambda count: None) -> list[Pair]:
    """Each pair normalised (see normalised_chunks)."""
    return [pair for chunk in normalised_chunks(pair_chunks(pairs), len(pairs), done) for pair in chunk]


def normalised_chunks(chunks, size: int | None = None, done=lambda count: None):
    """Each chunk of pairs normalised, in order (on every core for `size` ≥ POOL_FROM pairs:
    engine/data/parallel.py; the texts travel as plain strings, which cost the least to send).
    done(count): the pairs finished so far."""
    texts = ([text for p in chunk for text in (p.source, p.target)] for chunk in chunks)
    for normalised in streamed(each(normalise), texts, size, lambda count: done(count // 2)):
        yield [Pair(source, target) for source, target in zip(normalised[0::2], normalised[1::2])]


def training_pairs(pairs: list[Pair], chinese_source: bool, names: dict[str, str], seed: int, name_share: float,
                   done=lambda count: None) -> list[Pair]:
    """Normalised pairs (as normalised_pairs gives them: not normalised again) with their shared
    spans as placeholders (see engine/text/protect.py). done(count): the pairs finished so far,
    every CHUNK pairs and at the end (a progress bar)."""
    out = []
    for chunk in protected_chunks(pair_chunks(pairs, CHUNK), chinese_source, names, seed, name_share):
        out.extend(chunk)
        done(len(out))
    return out


def protected_chunks(chunks, chinese_source: bool, names: dict[str, str], seed: int, name_share: float):
    """training_pairs for a stream of chunks of pairs, a chunk at a time. One process: the
    placeholders' numbers are drawn from one generator in the pairs' order."""
    rng = random.Random(seed)
    for chunk in chunks:
        yield [Pair(*protect_pair(pair.source, pair.target, chinese_source, names, rng, name_share)) for pair in chunk]


@dataclass
class Unit:
    """One sentence (or, for a legacy run, one piece of a long line) as the model reads it."""

    line: int  # index of the input line it came from
    source: str  # the sentence as the user wrote it (normalised)
    text: str  # what the model reads: spans replaced by placeholders
    protected: Protected | None = None
    simplified: list = field(default_factory=list)  # traditional → simplified characters read
    passthrough: bool = False  # nothing to translate: the output is the source itself


class TextPipeline:
    """legacy: a char or word level run (see the module's doc). chinese_source / chinese_target:
    the languages of the run's sides. knows(word): whether the source model knows an English word.
    read(text) → (text, changes): how the model reads Chinese it may not know (traditional forms)."""

    def __init__(self, legacy: bool, chinese_source: bool, chinese_target: bool, knows=None, read=None, never_seen=None,
                 trained_names=frozenset()):
        self.legacy, self.chinese_source, self.chinese_target = legacy, chinese_source, chinese_target
        self.trained_names = set(trained_names)  # Chinese names the model learnt (汤姆): not carried over it
        self.knows, self.never_seen = knows, never_seen
        self.read = read or (lambda text: (text, []))

    def prepare(self, lines: list[str], glossary=None, too_long=None, dictionary: bool = False, names: bool = False) -> list[Unit]:
        """The units of `lines`, in order (a blank line has none). too_long(text) → bool: a legacy
        run cuts a line at sentence ends only when it is. dictionary: an English word the
        training data never had is translated by CC-CEDICT where it can be (English → Chinese).
        names: Chinese person and place names are carried into English (engine/text/names.py)."""
        units, fallback = [], self._fallback() if dictionary else None
        finders = {"names": self._names() if names else None, "convert": self._conversions(), "known_names": self._known_names()}
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            if self.legacy:
                read, changed = self.read(line)
                pieces = [read]
                if too_long is not None and too_long(read):
                    pieces = [p for p in LEGACY_SENTENCE_END.split(read) if p.strip()]
                units.extend(Unit(index, piece, piece, simplified=changed) for piece in pieces)
                continue
            for sentence in split_sentences(normalise(line)):
                units.extend(self._units(index, sentence, glossary, fallback, finders))
        return units

    def _fallback(self):
        """word → its CC-CEDICT translation, for words the training data never had."""
        if self.chinese_source or not self.chinese_target or self.never_seen is None:
            return None
        entries = dictionary.shipped()  # (read once, on first use)
        return lambda word: entries.english(word) if self.never_seen(word) else None

    def _conversions(self):
        """text → its dates, times, titles and abbreviations written the target language's way, for a run
        between English and Chinese (engine/text/conversions.py)."""
        if self.chinese_source == self.chinese_target:
            return None
        if self.chinese_source:
            return chinese_to_english
        return functools.partial(english_to_chinese, known=self.knows,  # (CC-CEDICT's tables are read on first use)
                                 in_chinese=lambda name: names.chinese_of_names().get(name),
                                 place=lambda name: names.chinese_places().get(name))

    def _known_names(self):
        """English → Chinese: word → its Chinese name in CC-CEDICT (carried beside an unknown name)."""
        if self.chinese_source or not self.chinese_target or self.knows is None:
            return None
        return lambda word: names.chinese_of_names().get(word)

    def _names(self):
        """text → Chinese names in it, for a run that reads Chinese and writes another language."""
        if not self.chinese_source or self.chinese_target:
            return None
        tables, trained = names.shipped(), self.trained_names  # (the tables are built on first use: CC-CEDICT is read once)
        return lambda text: [(a, b, english) for a, b, english in tables.find(text) if text[a:b] not in trained]

    def _units(self, index: int, sentence: str, glossary, fallback=None, finders=None) -> list[Unit]:
        """A sentence as the model reads it: one unit, or several when it has more numbers or
        other spans than there are placeholders (each piece is then translated on its own)."""
        read, changed = self.read(sentence)
        spans = find_spans(read, known=self.knows, chinese_source=self.chinese_source, glossary=glossary, fallback=fallback, **(finders or {}))
        pieces = split_overflow(read, spans)
        units = []
        for text, own in pieces:
            protected = apply_spans(text, own)
            source = sentence if len(pieces) == 1 else text
            units.append(Unit(index, source, protected.text, protected, changed, passthrough=protected.only_spans))
        return units

    def finish(self, unit: Unit, output: str) -> str:
        """The translation of a unit with its spans restored (a passthrough unit is its source)."""
        if unit.passthrough:
            return restore(unit.text, unit.protected)
        if self.chinese_target and not self.legacy:
            output = chinese_punctuation(output)
        return restore(output, unit.protected) if unit.protected is not None else single_spaced(output)

    def join(self, sentences: list[str]) -> str:
        return join_sentences(sentences, self.chinese_target)
