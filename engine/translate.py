"""Translation: load a run once, decode whole batches inside compiled graphs.

`Translator(run)` loads the model and vocabularies once and keeps compiled functions for the
encoder + decoder loop. Each call decodes a batch in one graph: a `tf.while_loop` that runs
`decode_step` until every sentence has produced EOS (no Python per character). Graphs are
compiled with XLA; to keep the number of compilations small, batches are padded to a few batch
sizes and source lengths (the `BATCH_SIZES` × multiples of `LENGTH_STEP`).

Shapes: B batch, K beam, S source length, T output steps, V target vocabulary.
"""

from __future__ import annotations

import math
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from engine import search
from engine.config import DecodeOptions
from engine.direction import run_direction, simplify_unknown
from engine.model import load_model
from engine.runs import RunFolder, RunFolderError, first_line
from engine.search import NEG_INF
from engine.vocab import BOS, EOS, UNK, detokenize, tokenize

BATCH_SIZES = (1, 8, 32, 128, 256)
BATCH_SIZE = 256  # sentences decoded together by default (divided by the beam size)
LENGTH_STEP = 8
SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s*")


@dataclass
class Hypothesis:
    text: str
    score: float  # log-probability / length**alpha (length counts EOS)
    log_prob: float  # total log-probability
    ids: list[int]
    tokens: list[str]
    attention: np.ndarray | None = None  # filled on request: (len(ids) + 1, source tokens)


@dataclass
class Translation:
    source: str
    text: str
    score: float
    log_prob: float
    ids: list[int]
    tokens: list[str]
    source_tokens: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # source tokens the model never saw
    n_best: list[Hypothesis] = field(default_factory=list)
    attention: np.ndarray | None = None  # (output tokens incl. EOS, source tokens) or None
    warnings: list[str] = field(default_factory=list)
    simplified: list[tuple[str, str]] = field(default_factory=list)  # traditional → simplified read


def _round_up(value: int, choices) -> int:
    return next((c for c in choices if c >= value), value)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class Translator:
    def __init__(self, run: str | Path | RunFolder, jit_compile: bool = True, warn=_warn, allow_unknown: bool = False):
        """allow_unknown: let the decoder choose <unk> (off: the best known token is taken instead;
        the training targets map rare characters to <unk>, which a reader cannot use)."""
        self.run = run if isinstance(run, RunFolder) else RunFolder(run)
        self.config = self.run.config()
        self.src_vocab, self.tgt_vocab = self.run.vocabs()
        self.model = self._load(self.run.model_path())
        for path, vocab, size in (
            (self.run.source_vocab_path, self.src_vocab, self.model.src_vocab_size),
            (self.run.target_vocab_path, self.tgt_vocab, self.model.tgt_vocab_size),
        ):
            if len(vocab) != size:
                raise RunFolderError(f"{path}: {len(vocab):,} tokens, but the model was trained with {size:,}")
        facts = self.run.facts()
        # Longest sentences seen in training: longer input is split, output is capped.
        limits = [facts.get("max_source_tokens", 64), facts.get("max_target_tokens", 64)]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in limits):
            raise RunFolderError(f"{self.run.facts_path}: max_source_tokens and max_target_tokens must be positive whole numbers")
        self.max_source_tokens = limits[0]
        self.max_output_tokens = limits[1] + 2
        self.warn = warn
        # Added to the logits before choosing: -inf on <unk> unless it is allowed. Scores still
        # use the model's own log-probabilities of what was chosen.
        self.choice_bias = tf.one_hot(UNK, self.model.tgt_vocab_size, on_value=0.0 if allow_unknown else NEG_INF)
        self.target_is_chinese = self.tgt_vocab.chinese
        self.source_is_chinese = self.src_vocab.chinese
        self.direction = run_direction(self.src_vocab, self.tgt_vocab)  # en-zh, zh-en or other
        self._greedy = tf.function(self._greedy_graph, jit_compile=jit_compile, reduce_retracing=False)
        self._beam = tf.function(self._beam_graph, jit_compile=jit_compile, reduce_retracing=False)
        self._forced = tf.function(self._forced_graph, reduce_retracing=True)

    @staticmethod
    def _load(path: Path):
        """The run's model; a damaged file is one line naming it (Keras' own message can be a
        misleading "File not found" for a truncated zip)."""
        try:
            return load_model(path)
        except Exception as err:
            reason = first_line(err) if zipfile.is_zipfile(path) else "not a .keras archive (truncated or damaged)"
            raise RunFolderError(f"{path}: cannot be loaded as a model: {reason}") from err

    # ------------------------------------------------------------------ graphs (engine/search.py)
    def _greedy_graph(self, src, max_steps: int):
        """src (B, S) → ids (B, T), total log-prob (B,), lengths (B,) (EOS counted)."""
        return search.greedy(self.model, src, max_steps, self.choice_bias)

    def _beam_graph(self, src, beam: int, max_steps: int):
        """src (B, S) → ids (B, K, T), log-prob (B, K), lengths (B, K)."""
        return search.beam_search(self.model, src, beam, max_steps, self.choice_bias)

    def _forced_graph(self, src, tgt_in):
        """Teacher-forced pass over chosen outputs → attention weights (B, T, S) (or empty)."""
        return search.forced_attention(self.model, src, tgt_in)

    # ------------------------------------------------------------------ preparing input
    def _pieces(self, text: str, tokens: list[str]) -> tuple[list[list[int]], list[str]]:
        """Token ids of `text` (whose tokens are given), split at sentence punctuation when it is
        longer than the model was trained on; a piece still too long is truncated, with a warning.
        Returns (pieces, warnings)."""
        ids = self.src_vocab.ids(tokens)
        if len(ids) <= self.max_source_tokens:
            return [ids], []
        pieces, warnings = [], []
        for piece in (p for p in SENTENCE_END.split(text) if p.strip()):
            piece_ids = self.src_vocab.encode(piece)
            if len(piece_ids) > self.max_source_tokens:
                warnings.append(
                    f"input of {len(piece_ids)} tokens truncated to the "
                    f"{self.max_source_tokens} the model was trained on: {piece[:40]!r}…"
                )
            pieces.append(piece_ids[: self.max_source_tokens])
        return pieces, warnings

    def _read(self, sentence: str) -> tuple[str, list[tuple[str, str]]]:
        """The text the model reads: for a Chinese source, traditional characters it does not
        know become their simplified forms (see engine/direction.py). Returns (text, changes)."""
        return simplify_unknown(sentence, self.src_vocab.index) if self.source_is_chinese else (sentence, [])

    def _batches(self, id_lists: list[list[int]], batch_size: int):
        """Sort by length, cut into batches, pad each to a bucketed (B, S). Yields (indices, array)."""
        order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(1, max(len(id_lists[i]) for i in chunk))
            width = math.ceil(width / LENGTH_STEP) * LENGTH_STEP
            rows = _round_up(len(chunk), [b for b in BATCH_SIZES if b <= batch_size] + [batch_size])
            array = np.zeros((rows, width), np.int32)
            array[len(chunk) :, 0] = UNK  # filler rows: one token, so nothing is fully masked
            for row, i in enumerate(chunk):
                array[row, : len(id_lists[i])] = id_lists[i]
            yield chunk, array

    # ------------------------------------------------------------------ public API
    def translate(
        self,
        sentences: list[str],
        beam: int = 1,
        n_best: int = 1,
        max_len: int | None = None,
        alpha: float = 1.0,
        batch_size: int = BATCH_SIZE,
        attention: bool = False,
        options: DecodeOptions | None = None,
    ) -> list[Translation]:
        """Translate `sentences`; results come back in input order.

        options: how to decode (the tools pass theirs, see `DecodeOptions`); without it the
        keywords say: beam size K (1 = greedy, the plain call's default); n_best hypotheses to
        keep per sentence (≤ K); max_len, the most output tokens (default: a little over the
        longest training target); alpha, length normalisation, score = log-prob / length**alpha.
        """
        if options is not None:
            beam, n_best, max_len, alpha = options.beam, options.n_best, options.max_len, options.alpha
        if beam < 1 or n_best < 1:
            raise ValueError("beam and n_best must be at least 1")
        n_best = min(n_best, beam)
        max_steps = max(1, min(max_len or self.max_output_tokens, 4 * self.max_output_tokens))
        # Each sentence becomes one or more pieces (long input is split); pieces decode together.
        id_lists, owners, notes, source_tokens, simplified = [], [], [], [], []
        for index, sentence in enumerate(sentences):
            read, changed = self._read(sentence)
            simplified.append(changed)
            tokens = tokenize(read, self.src_vocab.level)
            source_tokens.append(tokens)
            parts, warnings = self._pieces(read, tokens) if read.strip() else ([], [])
            notes.append(warnings)
            for warning in warnings:
                self.warn(warning)
            id_lists.extend(parts)
            owners.extend([index] * len(parts))
        hyps = self._decode(id_lists, beam, n_best, max_steps, alpha, max(1, batch_size // beam))
        if attention:
            self._attach_attention(id_lists, hyps)
        parts_of = [[] for _ in sentences]
        for owner, options in zip(owners, hyps):
            parts_of[owner].append(options)
        results = [self._assemble(s, source_tokens[i], parts_of[i], notes[i]) for i, s in enumerate(sentences)]
        for result, changed in zip(results, simplified):
            result.simplified = changed
        return results

    def _decode(self, id_lists, beam, n_best, max_steps, alpha, batch_size) -> list[list[Hypothesis]]:
        results: list[list[Hypothesis]] = [[] for _ in id_lists]
        for chunk, array in self._batches(id_lists, batch_size):
            if beam == 1:
                ids, log_prob, length = self._greedy(tf.constant(array), max_steps)
                ids, log_prob, length = ids.numpy()[:, None], log_prob.numpy()[:, None], length.numpy()[:, None]
            else:
                ids, log_prob, length = (x.numpy() for x in self._beam(tf.constant(array), beam, max_steps))
            for row, i in enumerate(chunk):
                hyps = [self._hypothesis(ids[row, k], log_prob[row, k], length[row, k], alpha) for k in range(ids.shape[1])]
                results[i] = sorted(hyps, key=lambda h: -h.score)[:n_best]
        return results

    def _hypothesis(self, ids, log_prob, length, alpha) -> Hypothesis:
        ids = [int(i) for i in ids[: max(int(length), 0)]]
        ids = ids[: ids.index(EOS)] if EOS in ids else ids
        tokens = self.tgt_vocab.tokens_of(ids)
        score = float(log_prob) / max(int(length), 1) ** alpha
        return Hypothesis(detokenize(tokens, self.tgt_vocab.level), score, float(log_prob), ids, tokens)

    def _attach_attention(self, id_lists, hyps) -> None:
        """Attention of each best hypothesis, from one teacher-forced pass over it."""
        if not self.model.has_attention:
            return
        for src_ids, options in zip(id_lists, hyps):
            options[0].attention = self._attention(src_ids, options[0].ids)

    def _attention(self, src_ids: list[int], out_ids: list[int]) -> np.ndarray:
        """(len(out_ids) + 1 incl. EOS, len(src_ids)) weights of the model reading `out_ids`."""
        tgt_in = np.array([[BOS, *out_ids]], np.int32)
        weights = self._forced(tf.constant([src_ids], tf.int32), tf.constant(tgt_in)).numpy()
        return weights[0, :, : len(src_ids)]

    def attention_of(self, translation: Translation) -> np.ndarray | None:
        """The attention weights of a translation `translate` returned, computed on request (the
        chat's /align); None for a model without attention or an input split into pieces."""
        if translation.attention is None and self.model.has_attention and translation.source.strip():
            pieces, _ = self._pieces(self._read(translation.source)[0], translation.source_tokens)
            if len(pieces) == 1:
                translation.attention = self._attention(pieces[0], translation.ids)
        return translation.attention

    def _assemble(self, source: str, source_tokens: list[str], parts: list[list[Hypothesis]], warnings: list[str]) -> Translation:
        """Join the pieces of one input (usually one piece) into its Translation."""
        unknown = [t for t in source_tokens if t not in self.src_vocab.index]
        if not parts:
            return Translation(source, "", 0.0, 0.0, [], [], source_tokens, unknown, [], None, warnings)
        joiner = "" if self.target_is_chinese else " "
        best = [p[0] for p in parts]
        if len(parts) == 1:
            chosen, n_best = best[0], parts[0]
        else:  # a long input split into pieces: one hypothesis, the pieces' best joined
            chosen = Hypothesis(
                joiner.join(h.text for h in best), sum(h.score for h in best) / len(best),
                sum(h.log_prob for h in best), [i for h in best for i in h.ids], [t for h in best for t in h.tokens],
            )
            n_best = [chosen]
        return Translation(
            source, chosen.text, chosen.score, chosen.log_prob, chosen.ids, chosen.tokens,
            source_tokens, unknown, n_best, chosen.attention, warnings,
        )

    def warm_up(self, beam: int = 1, all_lengths: bool = False, stop=None) -> float:
        """Compile the single-sentence graph now (the chat does this while the user types):
        for the shortest inputs, or for every source-length bucket up to the longest trained."""
        started = time.perf_counter()
        token = len(self.src_vocab) - 1  # any known token id
        lengths = range(1, self.max_source_tokens + 1, LENGTH_STEP) if all_lengths else [1]
        for length in lengths:  # each pads to its own bucket width, as `translate` pads
            if stop is not None and stop.is_set():
                break
            self._decode([[token] * length], beam, 1, self.max_output_tokens, 1.0, max(1, BATCH_SIZE // beam))
        return time.perf_counter() - started
