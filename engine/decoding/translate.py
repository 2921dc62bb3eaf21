"""Translation: load a run once, decode whole batches inside compiled graphs.

`Translator(run)` loads the model and vocabularies once and keeps compiled functions for the
encoder + decoder loop. Each call decodes a batch in one graph: a `tf.while_loop` that runs
`decode_step` until every sentence has produced EOS (no Python per character). XLA graphs are
compiled per padded shape (engine/decoding/batches.py keeps the shapes few); dynamic ones once.

Shapes: B batch, K beam, S source length, T output steps, V target vocabulary.
"""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from engine.config import BATCH_SIZE, DecodeOptions
from engine.data.vocab import BOS, EOS, SUBWORD, UNK, tokenize
from engine.decoding.batches import LENGTH_STEP, padded_batches
from engine.decoding.confidence import judged
from engine.decoding.echo import without_echo
from engine.decoding.rerank import Channel, DecodingDefaults, rerank, reverse_run_of
from engine.decoding.translation import Hypothesis, Translation, line_translation, passthrough, with_memory
from engine.models import search
from engine.models.base import load_model
from engine.models.search import NEG_INF
from engine.runs import RunFolder, RunFolderError, first_line
from engine.text.direction import run_direction, simplify_unknown
from engine.text.pipeline import TextPipeline, Unit
from engine.text.protect import PLACEHOLDERS
from engine.text.protect import WORD as WORD_PATTERN
from engine.text.script import HAN

GRAPH_MODES = ("xla", "dynamic")
WORD = re.compile(WORD_PATTERN)


def _trained_names(facts: dict) -> set[str]:
    """The Chinese names a run learnt one fixed translation for (汤姆 Tom, its run.json's
    names_for_placeholders): left to the model."""
    names = facts.get("names_for_placeholders")
    return {v for v in names.values() if isinstance(v, str)} if isinstance(names, dict) else set()


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class Translator:
    def __init__(self, run: str | Path | RunFolder, graphs: str | None = None, warn=_warn, allow_unknown: bool = False):
        """graphs: "xla", one XLA-compiled graph per padded shape and beam (fastest once
        compiled; each new shape compiles for seconds), or "dynamic", one graph per strategy with
        every shape left open (traced once, never recompiled; see benchmarks/compile_waits.py);
        None: $SEQ2SEQ_GRAPHS, else "xla". Both give the same translations (tests/test_subword.py).
        allow_unknown: let the decoder choose <unk> (off: the best known token is taken instead;
        the training targets map rare characters to <unk>, which a reader cannot use)."""
        given = "graphs" if graphs is not None else "SEQ2SEQ_GRAPHS"
        graphs = graphs if graphs is not None else os.environ.get("SEQ2SEQ_GRAPHS") or "xla"
        if graphs not in GRAPH_MODES:
            raise ValueError(f"{given} must be one of {', '.join(GRAPH_MODES)}, not {graphs!r}")
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
        self.pipeline = TextPipeline(
            legacy=self.src_vocab.level != SUBWORD, chinese_source=self.source_is_chinese,
            chinese_target=self.target_is_chinese, knows=getattr(self.src_vocab, "knows", None), read=self._read,
            never_seen=getattr(self.src_vocab, "never_seen", None), trained_names=_trained_names(facts),
        )
        self.guard = search.guard_settings(self.tgt_vocab)
        self.copies = self._copies()  # always applied, with or without the guard
        try:
            self.defaults = DecodingDefaults.of(self.run)  # the alpha and reranking chosen on its validation split
        except ValueError as err:
            raise RunFolderError(str(err)) from err
        self._channel: Channel | None = None
        self.memo: dict | None = None  # {} keeps every decoded batch's raw output (tuning decodes the same sentences again and again)
        self.graphs = graphs
        self._graphs: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self._forced = tf.function(self._forced_graph, reduce_retracing=True)

    def _copies(self) -> dict:
        """The guard's placeholder rule: {"copies": (source ids, target ids)} of the placeholders
        both vocabularies have (each is written at most once, and only where the source has it)."""
        shared = [p for p in PLACEHOLDERS if p in self.src_vocab.index and p in self.tgt_vocab.index]
        if not shared:  # (a char or word run has no placeholder tokens)
            return {}
        ids = lambda vocab: tf.constant([vocab.index[p] for p in shared], tf.int32)  # noqa: E731
        return {"copies": (ids(self.src_vocab), ids(self.tgt_vocab))}

    @staticmethod
    def _load(path: Path):
        """The run's model; a damaged file is one line naming it (Keras' own message can be a
        misleading "File not found" for a truncated zip)."""
        try:
            return load_model(path)
        except Exception as err:
            reason = first_line(err) if zipfile.is_zipfile(path) else "not a .keras archive (truncated or damaged)"
            raise RunFolderError(f"{path}: cannot be loaded as a model: {reason}") from err

    # ------------------------------------------------------------------ graphs (engine/models/search.py)
    def graph(self, strategy: str, guard: bool = False):
        """The compiled search of `strategy` (one of search.STRATEGIES), with or without the
        repetition guard, made when first asked for: (src (B, S), beam, max_steps) → ids
        (B, K, T), scores (B, K), lengths (B, K). In "xla" mode it retraces per padded shape and
        per beam, as translate pads and warm_up compiles them; in "dynamic" mode never."""
        key = (strategy, guard)
        if key not in self._graphs:
            search_of, settings = search.STRATEGIES[strategy], (self.guard if guard else {}) | self.copies

            def decode(src, beam, max_steps):
                return search_of(self.model, src, beam, max_steps, self.choice_bias, **settings)

            if self.graphs == "dynamic":
                signature = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)]
                self._graphs[key] = tf.function(decode, input_signature=signature)
            else:
                self._graphs[key] = tf.function(decode, jit_compile=True, reduce_retracing=False)
        return self._graphs[key]

    def _forced_graph(self, src, tgt_in):
        """Teacher-forced pass over chosen outputs → attention weights (B, T, S) (or empty)."""
        return search.forced_attention(self.model, src, tgt_in)

    # ------------------------------------------------------------------ preparing input
    def _read(self, sentence: str) -> tuple[str, list[tuple[str, str]]]:
        """The text the model reads: for a Chinese source, traditional characters it does not
        know become their simplified forms (see engine/text/direction.py). Returns (text, changes)."""
        return simplify_unknown(sentence, self.src_vocab.index) if self.source_is_chinese else (sentence, [])

    def _source_ids(self, unit: Unit, warnings: list[str]) -> list[int]:
        """Token ids of a unit, truncated (with a warning) when longer than the model was trained on."""
        ids = self.src_vocab.encode(unit.text)
        if len(ids) > self.max_source_tokens:
            warnings.append(
                f"input of {len(ids)} tokens truncated to the {self.max_source_tokens} the model was trained on: {unit.text[:40]!r}…"
            )
        return ids[: self.max_source_tokens]

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
        glossary=None,
        pause=None,
        memory=None,
    ) -> list[Translation]:
        """Translate `sentences` (lines: each may hold several sentences); results come back in
        input order, one per line, each with its confidence (engine/decoding/confidence.py).
        options: how to decode (the tools pass theirs, see `DecodeOptions`); without it the
        keywords say, with the plain call's defaults (greedy, no guard): see `DecodeOptions`.
        glossary: an engine.text.glossary.Glossary whose terms are translated as it says (runs with placeholders only:
        subword runs). pause: called between two decoded batches (the server's batcher decodes small requests that
        arrived meanwhile there, so a long text does not hold up a short one). memory: see `with_memory`."""
        if options is None:
            options = DecodeOptions(beam=beam, alpha=alpha, max_len=max_len, guard=False).with_(n_best=min(n_best, beam))
        return judged(with_memory(sentences, memory, lambda lines: self._translate_lines(lines, options, batch_size, attention, glossary, pause)),
                      self.defaults.confidence)

    def _translate_lines(self, sentences: list[str], options: DecodeOptions, batch_size: int, attention: bool, glossary, pause) -> list[Translation]:
        if glossary and self.pipeline.legacy:
            self.warn("this model was trained without placeholders (before subwords); the glossary is not applied")
            glossary = None
        units = self.pipeline.prepare(
            sentences, glossary, too_long=lambda text: len(self.src_vocab.encode(text)) > self.max_source_tokens, dictionary=options.dictionary, names=options.names,
        )
        decoded = [u for u in units if not u.passthrough]
        notes = [[] for _ in sentences]
        id_lists = [self._source_ids(u, notes[u.line]) for u in decoded]
        for warning in (w for line in notes for w in line):
            self.warn(warning)
        hyps = self._decode(id_lists, options, max(1, batch_size // options.beam), pause)
        if self.reranks(options) and hyps:
            hyps = rerank(self.channel(), [u.text for u in decoded], hyps, self.alpha(options), self.rerank_weight(options))
        hyps = [without_echo(h)[: options.n_best] for h in hyps]
        results: dict[int, Translation] = {}
        for unit, src_ids, options_of_unit in zip(decoded, id_lists, hyps):
            self._place_missing(unit, src_ids, options_of_unit[0])
            results[id(unit)] = self._unit_translation(unit, src_ids, options_of_unit, attention)
        by_line: list[list[Translation]] = [[] for _ in sentences]
        for unit in units:
            by_line[unit.line].append(results.get(id(unit)) or passthrough(unit.source, self.pipeline.finish(unit, ""), unit.simplified))
        return [line_translation(s, parts, notes[i], self.pipeline.join) for i, (s, parts) in enumerate(zip(sentences, by_line))]

    # ------------------------------------------------------------------ decoding defaults, reranking
    def alpha(self, options: DecodeOptions) -> float:
        """The length normalisation: the options', else the run's own (decoding.json), else 1."""
        return options.alpha if options.alpha is not None else self.defaults.alpha

    def reranks(self, options: DecodeOptions) -> bool:
        """Whether to rerank the beam with the reverse model: the options say, else the run's
        default; never for greedy search (one candidate)."""
        wanted = options.rerank if options.rerank is not None else self.defaults.rerank
        return bool(wanted) and options.beam > 1

    def rerank_weight(self, options: DecodeOptions) -> float:
        return options.rerank_weight if options.rerank_weight is not None else self.defaults.rerank_weight

    def channel(self) -> Channel:
        """The reverse model's scorer (loaded when first needed)."""
        if self._channel is None:
            try:
                reverse = reverse_run_of(self.defaults, self.run)
            except ValueError as err:
                raise RunFolderError(str(err)) from err
            self._channel = Channel(Translator(reverse, graphs=self.graphs, warn=self.warn))
        return self._channel

    def _decode(self, id_lists, options: DecodeOptions, batch_size, pause=None) -> list[list[Hypothesis]]:
        """The n-best hypotheses of each id list (the whole beam where reranking or echo.py chooses)."""
        results: list[list[Hypothesis]] = [[] for _ in id_lists]
        max_steps = max(1, min(options.max_len or self.max_output_tokens, 4 * self.max_output_tokens))
        decode, alpha, whole_beam = self.graph(options.strategy, options.guard), self.alpha(options), self.reranks(options)
        placeholders = {self.src_vocab.index.get(p) for p in PLACEHOLDERS}
        for chunk, array in padded_batches(id_lists, batch_size, bucketed=self.graphs == "xla"):
            ids, log_prob, length = self._search(decode, array, options, max_steps)
            for row, i in enumerate(chunk):
                hyps = [self._hypothesis(ids[row, k], log_prob[row, k], length[row, k], alpha) for k in range(ids.shape[1])]
                keep = options.beam if whole_beam or placeholders.intersection(id_lists[i]) else options.n_best
                results[i] = sorted(hyps, key=lambda h: -h.score)[:keep]
            if pause is not None:
                pause()
        return results

    def _search(self, decode, array, options: DecodeOptions, max_steps: int):
        """ids, log-probs and lengths of a padded batch (numpy), from `memo` when it holds them."""
        if self.memo is None:
            return (x.numpy() for x in decode(tf.constant(array), options.beam, max_steps))
        key = (array.tobytes(), array.shape, options.beam, options.guard, max_steps)
        if key not in self.memo:
            self.memo[key] = tuple(x.numpy() for x in decode(tf.constant(array), options.beam, max_steps))
        return self.memo[key]

    def _hypothesis(self, ids, log_prob, length, alpha) -> Hypothesis:
        ids = [int(i) for i in ids[: max(int(length), 0)]]
        ids = ids[: ids.index(EOS)] if EOS in ids else ids
        score = float(log_prob) / max(int(length), 1) ** alpha
        return Hypothesis(self.tgt_vocab.decode(ids), score, float(log_prob), ids, self.tgt_vocab.tokens_of(ids))

    def _place_missing(self, unit: Unit, src_ids: list[int], best: Hypothesis) -> None:
        """A placeholder the model left out goes where the attention on it peaks (before the output
        token that looks at it hardest); `restore` puts any still missing before the final stop."""
        if unit.protected is None or not self.model.has_attention:
            return
        missing = [p for p in unit.protected.spans if p not in best.text and p in self.src_vocab.index]
        if not missing:
            return
        weights = self._attention(src_ids, best.ids)  # (T + 1, S)
        inserts = []
        for placeholder in missing:
            positions = [s for s, i in enumerate(src_ids) if i == self.src_vocab.index[placeholder]]
            if positions:
                t = int(weights[:, positions].max(-1).argmax())
                inserts.append((len(self.tgt_vocab.decode(best.ids[:t])), placeholder))
        for offset, placeholder in sorted(inserts, reverse=True):
            best.text = best.text[:offset] + placeholder + best.text[offset:]

    def _unknown(self, unit: Unit) -> list[str]:
        """Source words (or characters) the model never saw in training."""
        if self.pipeline.legacy:
            return [t for t in tokenize(unit.text, self.src_vocab.level) if t not in self.src_vocab.index]
        if self.source_is_chinese:
            return [c for c in unit.text if HAN.match(c) and c not in self.src_vocab.index]
        return [w for w in WORD.findall(unit.source) if not self.src_vocab.knows(w)]

    def _unit_translation(self, unit: Unit, src_ids, hyps: list[Hypothesis], attention: bool) -> Translation:
        for hypothesis in hyps:
            hypothesis.text = self.pipeline.finish(unit, hypothesis.text)
        best = hyps[0]
        result = Translation(
            unit.source, best.text, best.score, best.log_prob, best.ids, best.tokens,
            self._source_tokens(unit, src_ids), self._unknown(unit), hyps, None, [], unit.simplified, src_ids=src_ids,
        )
        if attention and self.model.has_attention:
            result.attention = best.attention = self._attention(src_ids, best.ids)
        return result

    def _source_tokens(self, unit: Unit, src_ids) -> list[str]:
        if self.pipeline.legacy:
            return tokenize(unit.text, self.src_vocab.level)
        return [self.src_vocab.tokens[i] for i in src_ids]

    def _attention(self, src_ids: list[int], out_ids: list[int]) -> np.ndarray:
        """(len(out_ids) + 1 incl. EOS, len(src_ids)) weights of the model reading `out_ids`."""
        tgt_in = np.array([[BOS, *out_ids]], np.int32)
        weights = self._forced(tf.constant([src_ids], tf.int32), tf.constant(tgt_in)).numpy()
        return weights[0, :, : len(src_ids)]

    def attention_of(self, translation: Translation) -> np.ndarray | None:
        """The attention weights of a translation `translate` returned (one sentence; see
        `Translation.parts` for a line of several), computed on request (the chat's /align);
        None for a model without attention, or for a line of several sentences."""
        if translation.attention is None and self.model.has_attention and translation.src_ids and not translation.parts:
            translation.attention = self._attention(translation.src_ids, translation.ids)
        return translation.attention

    def warm_up(self, options: DecodeOptions = DecodeOptions(), all_lengths: bool = False, stop=None) -> float:
        """Compile the graphs of `options` now (the chat does this while the user types). XLA
        graphs: the single-sentence graph for the shortest inputs, or for every source-length
        bucket up to the longest trained. Dynamic graphs: every strategy with the options' guard,
        once (no later input needs another). Options that rerank load the reverse model and trace
        its scoring graph too (else the first sentence would wait for them)."""
        started = time.perf_counter()
        if self.reranks(options):
            self.channel().log_probs_now([(".", ".")])
        token = len(self.src_vocab) - 1  # any known token id
        if self.graphs == "dynamic":
            for beam in dict.fromkeys((options.beam, 1, 2)):  # greedy and beam search both traced
                if stop is None or not stop.is_set():
                    self._decode([[token]], options.with_(beam=beam), 1)
            return time.perf_counter() - started
        lengths = range(1, self.max_source_tokens + 1, LENGTH_STEP) if all_lengths else [1]
        for length in lengths:  # each pads to its own bucket width, as `translate` pads
            if stop is not None and stop.is_set():
                break
            self._decode([[token] * length], options, max(1, BATCH_SIZE // options.beam))
        return time.perf_counter() - started
