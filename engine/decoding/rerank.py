"""A model's own decoding defaults, and reverse-model reranking (the noisy channel).

A beam's n-best list is rescored with what the model of the other direction thinks of it:

    score(y) = log P(y | x) / |y|**alpha  +  weight · log P(x | y) / (|x| + 1)

|y| counts the output's tokens and its EOS, |x| the source's tokens. The forward term is the plain
beam's score, so weight 0 is exactly plain decoding; the reverse term prefers the candidate from
which the source can be read back: one that drops or invents content explains the source worse.
Both terms are per token, so the weight does not depend on sentence length.

`decoding.json` in a run folder holds the alpha and weight chosen on its validation split
(`seq2seq-eval RUN --tune-decoding --rerank-with OTHER`), the run that reranks, whether
reranking is on by default (where it won at least `MIN_GAIN` valid BLEU), and what was measured.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.config import DecodeOptions
from engine.data.corpus import load_split
from engine.data.vocab import BOS, EOS, UNK
from engine.evaluation.evaluate import score
from engine.runs import RunFolder, named_run, write_atomic

FILE = "decoding.json"
MIN_GAIN = 0.5  # valid BLEU reranking must win by to be a model's default
ALPHAS = (0.6, 0.8, 1.0, 1.3, 1.6)
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5)


@dataclass
class DecodingDefaults:
    """What a run decodes with when a tool does not say (engine.config.DecodeOptions' None)."""

    alpha: float = 1.0
    rerank_with: str | None = None  # the reverse run: a path, or a shipped model's name
    rerank_weight: float = 0.0
    rerank: bool = False  # on by default
    measured: dict = field(default_factory=dict)  # the tuning's report
    confidence: dict = field(default_factory=dict)  # {"low", "high", "measured"}: engine/decoding/confidence.py

    @classmethod
    def of(cls, run: RunFolder) -> DecodingDefaults:
        """The run's decoding.json, or the defaults where it has none. A damaged file is a
        ValueError naming it."""
        path = run.path / FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            defaults = cls(**data)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: not a decoding file ({err})") from err
        if not isinstance(defaults.alpha, (int, float)) or not isinstance(defaults.rerank_weight, (int, float)) or not isinstance(defaults.rerank, bool):
            raise ValueError(f"{path}: alpha and rerank_weight must be numbers, rerank true or false")
        if defaults.confidence and not all(isinstance(defaults.confidence.get(k), (int, float)) for k in ("low", "high")):
            raise ValueError(f"{path}: confidence needs numbers low and high")
        return defaults

    def save(self, run: RunFolder) -> None:
        write_atomic(run.path / FILE, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def reverse_run_of(defaults: DecodingDefaults, run: RunFolder) -> RunFolder:
    """The run that reranks `run`'s output: decoding.json's rerank_with, a path, a folder beside
    the run's, or a shipped model's name (engine.runs.named_run)."""
    name = defaults.rerank_with
    if not name:
        raise ValueError(f"{run.path}: no reverse model to rerank with (its {FILE} names none)")
    found = named_run(name, beside=run.path.parent)
    if found is None:
        raise ValueError(f"{run.path}: the reverse model {name!r} of its {FILE} is not a run folder or shipped model")
    return found


def unseen_by(reverse, sources: list[str], references: list[list[str]]) -> list[int]:
    """The indices of the sentences whose pairs the reverse run never trained on: in its valid or
    test split. A reverse model that learnt a pair by heart explains its reference far better
    than any other candidate, so tuning on its training pairs would overrate reranking."""
    split, _ = load_split(reverse.config(), extra=False, keep_train=False)
    unseen = {(p.target, p.source) for p in split.valid + split.test}  # as this run's (source, target)
    return [i for i, (s, refs) in enumerate(zip(sources, references)) if all((s, r) in unseen for r in refs)]


class Channel:
    """log P(x | y) from the reverse model: y, a candidate in the forward model's target language
    (with its placeholders), is the reverse model's source; x, the sentence as the forward model
    read it, is its target."""

    def __init__(self, reverse):
        import tensorflow as tf  # (deferred: the tools read decoding.json without TensorFlow)

        self.reverse = reverse  # an engine.decoding.translate.Translator of the other direction
        self.memo: dict | None = None  # {} keeps every score (tuning scores the same candidates again)
        spec = [tf.TensorSpec([None, None], tf.int32)] * 3
        self._scores = tf.function(self._score_graph, input_signature=spec)

    def _score_graph(self, src, tgt_in, tgt_out):
        import tensorflow as tf  # (deferred: the tools read decoding.json without TensorFlow)

        logits, _ = self.reverse.model.teacher_forced(src, tgt_in)  # (N, T, V)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        picked = tf.gather(log_probs, tgt_out, batch_dims=2)  # (N, T)
        return tf.reduce_sum(picked * tf.cast(tgt_out > 0, tf.float32), -1)

    def log_probs(self, pairs: list[tuple[str, str]], batch: int = 64) -> list[tuple[float, int]]:
        """(log P(x | y), |x| + 1) for each (y, x)."""
        if self.memo is not None:
            missing = list(dict.fromkeys(p for p in pairs if p not in self.memo))
            self.memo.update(zip(missing, self.log_probs_now(missing, batch)))
            return [self.memo[p] for p in pairs]
        return self.log_probs_now(pairs, batch)

    def log_probs_now(self, pairs: list[tuple[str, str]], batch: int = 64) -> list[tuple[float, int]]:
        """(log P(x | y), |x| + 1) for each (y, x), scored in batches of similar lengths (a batch
        is as long as its longest pair: sorted, little of it is padding)."""
        import tensorflow as tf  # (deferred: the tools read decoding.json without TensorFlow)


        rev = self.reverse
        srcs = [rev.src_vocab.encode(y)[: rev.max_source_tokens] or [UNK] for y, _ in pairs]
        tgts = [rev.tgt_vocab.encode(x)[: rev.max_output_tokens] for _, x in pairs]
        order = sorted(range(len(pairs)), key=lambda i: (len(tgts[i]), len(srcs[i])))
        out: list[tuple[float, int]] = [(0.0, 0)] * len(pairs)
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            src = np.zeros((len(rows), max(len(srcs[i]) for i in rows)), np.int32)
            tgt_in = np.zeros((len(rows), max(len(tgts[i]) for i in rows) + 1), np.int32)
            tgt_out = np.zeros_like(tgt_in)
            for row, i in enumerate(rows):
                s, t = srcs[i], tgts[i]
                src[row, : len(s)] = s
                tgt_in[row, : len(t) + 1] = [BOS, *t]
                tgt_out[row, : len(t) + 1] = [*t, EOS]
            scores = self._scores(tf.constant(src), tf.constant(tgt_in), tf.constant(tgt_out)).numpy()
            for row, i in enumerate(rows):
                out[i] = (float(scores[row]), len(tgts[i]) + 1)
        return out


def combined(forward_log_prob: float, length: int, reverse_log_prob: float, source_length: int, alpha: float, weight: float) -> float:
    """The score of the module's docstring."""
    return forward_log_prob / max(length, 1) ** alpha + weight * reverse_log_prob / max(source_length, 1)


def rerank(channel: Channel, sources: list[str], candidates: list[list], alpha: float, weight: float) -> list[list]:
    """Each sentence's candidates (engine.decoding.translation.Hypothesis, raw model text), best first by
    `combined`; each hypothesis's score becomes its combined score."""
    pairs = [(h.text, source) for source, hyps in zip(sources, candidates) for h in hyps]
    scored = iter(channel.log_probs(pairs))
    ranked = []
    for hyps in candidates:
        for h in hyps:
            reverse_log_prob, source_length = next(scored)
            h.score = combined(h.log_prob, len(h.ids) + 1, reverse_log_prob, source_length, alpha, weight)
        ranked.append(sorted(hyps, key=lambda h: -h.score))
    return ranked


def tune(translator, sources: list[str], references: list[list[str]], beam: int = 4, alphas=ALPHAS, weights=WEIGHTS,
         rerank_on: list[int] | None = None, stage=lambda message: None) -> DecodingDefaults:
    """The alpha that scores best on `sources` (a validation split) with plain beam search, and
    the reverse model's weight that scores best at that alpha on the sentences `rerank_on`
    (indices; default all: give those the reverse model never trained on), and whether
    reranking wins there by MIN_GAIN. The beam is decoded once and each candidate scored once
    (memoised); every setting after that only re-sorts. The translator's decoding.json, or its
    defaults' rerank_with, names the reverse run."""
    subset = list(range(len(sources))) if rerank_on is None else rerank_on
    sub_sources, sub_references = [sources[i] for i in subset], [references[i] for i in subset]

    def bleu(lines, refs, **options) -> float:
        found = translator.translate(lines, options=DecodeOptions(beam=beam, **options))
        return score([t.text for t in found], refs)["bleu"]

    translator.memo, plain = {}, {}
    try:
        for alpha in alphas:
            stage(f"beam {beam}, alpha {alpha:g} …")
            plain[alpha] = bleu(sources, references, alpha=alpha, rerank=False)
        best_alpha = max(alphas, key=lambda a: (plain[a], a == 1.0))
        baseline = bleu(sub_sources, sub_references, alpha=best_alpha, rerank=False)
        translator.channel().memo = {}
        reranked = {}
        for weight in (w for w in weights if w > 0):
            stage(f"reranked, weight {weight:g} …")
            reranked[weight] = bleu(sub_sources, sub_references, alpha=best_alpha, rerank=True, rerank_weight=weight)
    finally:
        translator.memo = None
        if translator._channel is not None:
            translator._channel.memo = None
    best_weight = max(reranked, key=lambda w: reranked[w])
    gain = reranked[best_weight] - baseline
    measured = {
        "split": "valid", "sentences": len(sources), "beam": beam,
        "bleu_by_alpha": {f"{a:g}": plain[a] for a in alphas},
        "reranking_sentences": len(subset), "bleu_plain_there": baseline,
        "bleu_reranked_by_weight": {f"{w:g}": reranked[w] for w in reranked},
        "gain": round(gain, 2),
    }
    return DecodingDefaults(best_alpha, translator.defaults.rerank_with, best_weight, gain >= MIN_GAIN, measured, translator.defaults.confidence)
