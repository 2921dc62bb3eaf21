"""Vocabularies: text ⇄ token ids, character or word level, saved as JSON.

Ids 0..3 are reserved: PAD (padding, masked everywhere), BOS (decoder start), EOS (end of
sentence) and UNK (anything the training data never had). Encoding never fails.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import io
import json
import random
import re
from collections import Counter
from pathlib import Path

import sentencepiece

from engine.data.parallel import each, streamed
from engine.data.spool import pair_chunks
from engine.text.normalise import fold_case
from engine.text.script import CJK_CHAR, is_chinese
from engine.text.shared_spans import find_word

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]

# Word level: Latin-script words (with inner apostrophes, "don't"), numbers, each CJK character
# on its own, and any other non-space character on its own (punctuation).
_CJK = re.compile(rf"[{CJK_CHAR}]")
_WORD_RE = re.compile(rf"[^\W{CJK_CHAR}]+(?:['’][^\W{CJK_CHAR}]+)*|\S")


def tokenize(text: str, level: str) -> list[str]:
    if level == "char":
        return list(text)
    return _WORD_RE.findall(text)


def _is_wordlike(char: str) -> bool:
    return char.isalnum() and not _CJK.match(char)


def detokenize(tokens: list[str], level: str) -> str:
    """Inverse of `tokenize`: characters concatenate; words get a space between two word-like
    tokens (and after sentence punctuation), none around CJK characters or before punctuation."""
    if level == "char":
        return "".join(tokens)
    out = ""
    for token in tokens:
        if out and token and (
            (_is_wordlike(out[-1]) and _is_wordlike(token[0]))
            or (out[-1] in ",.!?;:" and _is_wordlike(token[0]))
        ):
            out += " "
        out += token
    return out


class Vocab:
    def __init__(self, tokens: list[str], level: str):
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError("a vocabulary must start with the special tokens")
        self.level = level
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts, level: str, min_freq: int = 1) -> Vocab:
        """Tokens seen at least `min_freq` times, most frequent first (ties in first-seen order)."""
        counts = Counter(token for text in texts for token in tokenize(text, level))
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_freq]
        return cls(SPECIALS + [t for t in kept if t not in SPECIALS], level)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def chinese(self) -> bool:
        """Whether this vocabulary's language is Chinese (most of its commonest tokens are Han)."""
        return is_chinese("".join(self.tokens[len(SPECIALS) : 200]))

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no BOS/EOS); unknown tokens become UNK."""
        return self.ids(tokenize(text, self.level))

    def encode_all(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(token, UNK) for token in tokens]

    def tokens_of(self, ids) -> list[str]:
        """Tokens of ids, stopping at EOS and skipping PAD/BOS. UNK shows as U+FFFD."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            tokens.append("\ufffd" if i == UNK or i >= len(self.tokens) else self.tokens[i])
        return tokens

    def decode(self, ids) -> str:
        """Text of ids (see `tokens_of`)."""
        return detokenize(self.tokens_of(ids), self.level)

    def to_json(self) -> str:
        return json.dumps({"level": self.level, "tokens": self.tokens}, ensure_ascii=False, indent=0)

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        tokens, level = data["tokens"], data["level"]
        if level not in ("char", "word") or not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError('needs "level" (char or word) and "tokens" (a list of strings)')
        return cls(tokens, level)

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------------------------
# Subwords: SentencePiece, trained per run on its own train split.

SUBWORD = "subword"


# texts a SentencePiece model learns its pieces from, at most (SubwordVocab.train): plenty for a few
# thousand pieces, and what keeps its memory the same for any corpus (300,000 cost 440 MB more)
PIECE_SAMPLE = 100_000
# SentencePiece's threads for a sampled corpus. Its pieces depend on the number of threads (each
# sums its share of the text), so the number is fixed, not the machine's cores: the same corpus
# gives the same pieces everywhere. Smaller corpora keep one thread (and the pieces they had).
PIECE_THREADS = 4


class SubwordVocab:
    """A SentencePiece model (unigram, or characters for a Chinese side) with the interface of
    `Vocab`, so that every English word, a new name or an inflection included, becomes known
    pieces; characters the training text never had fall back to their UTF-8 bytes, so nothing is
    ever <unk>. Ids 0..3 are PAD/BOS/EOS/UNK as in `Vocab`; the placeholders of
    engine/text/protect.py are pieces of their own. Saved as JSON with the model inside (base64),
    so a run folder keeps its one file per side.

    lowercase: the text is read without case (the source side of a Latin-script language).
    words: how often each word (lowercased) is in the training text: a name-like word seen fewer
    than KNOWN_AFTER times is one the model cannot be trusted to translate, and is carried
    through as it is (Jennifer, Bilbao).
    """

    KNOWN_AFTER = 5

    level = SUBWORD

    def __init__(self, model: bytes, lowercase: bool = False, words=(), kind: str = "unigram", chinese: bool | None = None):
        self.model, self.lowercase, self.kind = bytes(model), lowercase, kind
        self.sp = sentencepiece.SentencePieceProcessor(model_proto=self.model)
        self.tokens = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        if [self.sp.pad_id(), self.sp.bos_id(), self.sp.eos_id(), self.sp.unk_id()] != [PAD, BOS, EOS, UNK]:
            raise ValueError("a subword model must number <pad> <s> </s> <unk> 0 to 3")
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.words = dict(words) if isinstance(words, dict) else dict.fromkeys(words, self.KNOWN_AFTER)
        if chinese is None:  # (recorded at training; guessed from the pieces otherwise)
            chinese = is_chinese("".join(t for t in self.tokens[len(SPECIALS) :] if not t.startswith("<0x"))[:2000])
        self.chinese = chinese

    @classmethod
    def train(cls, texts, vocab_size: int, chinese: bool, lowercase: bool = False, kind: str = "unigram",
              symbols=(), count_words: bool = True, done=lambda count: None) -> SubwordVocab:
        """Train on `texts` (already normalised and protected). kind: "unigram" or "char";
        symbols: pieces that are never split (the placeholders). A vocabulary larger than the
        text supports is cut to what it supports. Over PIECE_SAMPLE texts, the pieces are
        learnt from a seeded sample of PIECE_SAMPLE of them (minutes saved for millions of
        pairs; the characters and the word counts still come from every text). count_words:
        count the words the model knows (skipped when the caller counts them itself). done(count):
        the texts read so far (a progress bar; SentencePiece's own training, after, is not counted)."""
        column = text_column(texts)
        picked = sorted(random.Random(0).sample(range(len(column)), PIECE_SAMPLE)) if len(column) > PIECE_SAMPLE else None
        threads = PIECE_THREADS if picked is not None else 1
        sample, characters, counts, first = [], set(), Counter(), 0
        chunks = streamed(each(fold_case), column.chunks(), len(column)) if lowercase else column.chunks()
        for chunk in chunks:  # (one pass, a chunk at a time: a corpus of millions of texts is never held whole)
            for text in chunk:  # (not one joined string: for a million Chinese texts, 100 MB at once)
                characters.update(text)
            if picked is None:
                sample.extend(chunk)
            else:
                at, end = bisect.bisect_left(picked, first), bisect.bisect_left(picked, first + len(chunk))
                sample.extend(chunk[i - first] for i in picked[at:end])
            if count_words and not chinese:
                counts.update(_count_words(chunk))
            first += len(chunk)
            done(first)
        # The 256 byte pieces, the specials, the symbols and every character are pieces whatever
        # the size asked for (it is a floor: hard_vocab_limit off lets SentencePiece stop short).
        floor = len(characters) + 256 + len(SPECIALS) + len(symbols) + 1
        vocab_size = max(vocab_size, floor if kind == "unigram" else 256 + len(SPECIALS) + len(symbols) + 2)
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(sample), model_writer=model, vocab_size=vocab_size, model_type=kind,
            character_coverage=0.9995 if chinese else 1.0, byte_fallback=True, user_defined_symbols=list(symbols),
            normalization_rule_name="identity", add_dummy_prefix=not chinese, hard_vocab_limit=False,
            pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK, num_threads=threads, minloglevel=2,
        )
        return cls(model.getvalue(), lowercase, {} if chinese or not count_words else dict(counts), kind, chinese)

    def __len__(self) -> int:
        return len(self.tokens)

    def knows(self, word: str) -> bool:
        """Whether the training text had `word` (any case) often enough to translate it."""
        return self.words.get(word.lower(), 0) >= self.KNOWN_AFTER

    def never_seen(self, word: str) -> bool:
        """Whether the training text never had `word` (any case)."""
        return word.lower() not in self.words

    def pieces(self, text: str) -> list[str]:
        return self.sp.encode(fold_case(text) if self.lowercase else text, out_type=str)

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(fold_case(text) if self.lowercase else text)

    def encode_all(self, texts: list[str]) -> list[list[int]]:
        """[encode(t) for t in texts], SentencePiece's threads sharing the texts (the same ids)."""
        return self.sp.encode([fold_case(t) for t in texts] if self.lowercase else list(texts), num_threads=PIECE_THREADS)

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(token, UNK) for token in tokens]

    def tokens_of(self, ids) -> list[str]:
        """Pieces of ids, stopping at EOS and skipping PAD/BOS."""
        return [self.tokens[i] for i in _content(ids, len(self.tokens))]

    def decode(self, ids) -> str:
        return self.sp.decode(_content(ids, len(self.tokens)))

    def to_json(self) -> str:
        return json.dumps(
            {"level": SUBWORD, "kind": self.kind, "chinese": self.chinese, "lowercase": self.lowercase,
             "words": dict(sorted(self.words.items())),
             "model": base64.b64encode(self.model).decode("ascii")},
            ensure_ascii=False,
        )

    @classmethod
    def from_dict(cls, data: dict) -> SubwordVocab:
        try:
            model = base64.b64decode(data["model"], validate=True)
        except (binascii.Error, TypeError) as err:
            raise ValueError(f'"model" is not base64 ({err})') from err
        words = data.get("words", {})
        if not (isinstance(words, list) or isinstance(words, dict) and all(isinstance(n, int) for n in words.values())):
            raise ValueError('"words" must map words to counts')
        if not all(isinstance(data.get(k, False), bool) for k in ("lowercase", "chinese")):
            raise ValueError('"lowercase" and "chinese" must be true or false')
        try:
            return cls(model, data.get("lowercase", False), words, data.get("kind", "unigram"), data.get("chinese"))
        except RuntimeError as err:  # sentencepiece's message for a model it cannot parse
            raise ValueError(f"not a SentencePiece model ({str(err).splitlines()[0]})") from err


def _count_words(texts: list[str]) -> Counter:
    return Counter(w.lower() for t in texts for w in _WORD_RE.findall(t) if w[:1].isalpha())


def _count_words_read(pairs: list) -> Counter:
    """_count_words of the pairs' sources, less each occurrence its target keeps as it is (Linux →
    我用Linux。): training reads that one as a placeholder (engine/text/shared_spans.py, protect_pair),
    so the model never learns to translate the word from it (it learns to copy it)."""
    return Counter(w.lower() for p in pairs for w in _WORD_RE.findall(p.source)
                   if w[:1].isalpha() and find_word(p.target, w) < 0)


def word_counts(texts, kept_out: bool = False) -> dict[str, int]:
    """How often each Latin-script word (lowercased) is in `texts` (any iterable; on every core
    for a large corpus; the same counts in the same order as one pass). kept_out: `texts` are
    pairs, and a source word its target keeps as it is does not count (_count_words_read)."""
    counts, column = Counter(), text_column(texts)
    for part in streamed(_count_words_read if kept_out else _count_words, column.chunks(), len(column)):
        counts.update(part)
    return dict(counts)


class TextColumn:
    """One side of a list of pairs or of a PairSpool (side "source" or "target"), or a list of
    texts (side None), read a chunk at a time: what SubwordVocab.train learns from."""

    def __init__(self, items, side: str | None = None):
        self.items, self.side = items, side

    def __len__(self) -> int:
        return len(self.items)

    def chunks(self):
        for chunk in pair_chunks(self.items):
            yield chunk if self.side is None else [getattr(pair, self.side) for pair in chunk]


def text_column(texts) -> TextColumn:
    """`texts` as a TextColumn: itself, or any iterable of texts, read into a list."""
    return texts if isinstance(texts, TextColumn) else TextColumn(list(texts))


def _content(ids, size: int) -> list[int]:
    """ids up to EOS, without PAD/BOS and out-of-range ids."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i not in (PAD, BOS) and i < size:
            out.append(i)
    return out


def vocab_from_dict(data: dict):
    """A `Vocab` or a `SubwordVocab`, by the JSON's level."""
    if isinstance(data, dict) and data.get("level") == SUBWORD:
        return SubwordVocab.from_dict(data)
    return Vocab.from_dict(data)
