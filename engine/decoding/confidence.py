"""How sure the model is of a translation, in a word a person reads: low, medium or high.

The score is the model's mean log-probability per output token of the translation it chose (the
end of sentence counted), and for a line of several sentences that of its weakest sentence (one
bad sentence makes the line worth checking). Units nothing translated (a number, a URL) have no
score and a translation memory's exact match, written by a person, is "high".

The words come from thresholds chosen on the run's validation split (`seq2seq-eval
--calibrate-confidence`, kept in its decoding.json under "confidence"): "low" is the lowest
LOW_SHARE of those sentences' scores, "high" the top HIGH_SHARE. A run without them gets no word
(the tools then show none). What "low" is worth is measured there too: the share of the worst
tenth of sentences (by sentence chrF against the reference) it flags, beside the share of all
sentences it flags (benchmarks/confidence.py reports the same on the test split).
"""

from __future__ import annotations

from sacrebleu.metrics import CHRF

LEVELS = ("low", "medium", "high")
LOW_SHARE = 0.25  # of validation sentences called "low"
HIGH_SHARE = 0.40  # of validation sentences called "high"
WORST_SHARE = 0.10  # "the worst sentences": this share, by sentence chrF


def token_log_prob(translation) -> float | None:
    """Mean log-probability per output token (EOS counted) of a Translation's best hypothesis,
    the lowest of its sentences; None where no sentence was decoded by the model."""
    parts = translation.parts or [translation]
    values = [part.log_prob / (len(part.ids) + 1) for part in parts if part.ids]
    return min(values) if values else None


def level_of(value: float | None, thresholds: dict | None) -> str | None:
    """low, medium or high for a score, by a run's thresholds ({"low": …, "high": …}); None without either."""
    if value is None or not thresholds:
        return None
    if value < thresholds["low"]:
        return "low"
    return "high" if value >= thresholds["high"] else "medium"


def judged(results: list, thresholds: dict | None) -> list:
    """Translations with their confidence set where nothing set it (a memory's match is "high")."""
    for result in results:
        if result.confidence is None:
            result.confidence = level_of(token_log_prob(result), thresholds)
    return results


def quantile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered))))]


def usefulness(values: list[float | None], chrfs: list[float], thresholds: dict) -> dict:
    """What "low" catches: of the worst WORST_SHARE sentences by chrF, the share flagged low
    (`worst_flagged`), against the share of all sentences flagged low (`all_flagged`); sentences
    without a score are left out."""
    scored = [(v, c) for v, c in zip(values, chrfs) if v is not None]
    if not scored:
        return {"sentences": 0}
    cut = quantile([c for _, c in scored], WORST_SHARE)
    worst = [v for v, c in scored if c <= cut]
    flagged = lambda group: sum(level_of(v, thresholds) == "low" for v in group) / len(group)  # noqa: E731
    return {"sentences": len(scored), "worst_share": WORST_SHARE, "worst_sentences": len(worst), "worst_chrf_at_most": round(cut, 2),
            "worst_flagged": round(flagged(worst), 3), "all_flagged": round(flagged([v for v, _ in scored]), 3)}


def calibrate(values: list[float | None], chrfs: list[float]) -> dict:
    """Thresholds from a validation split's scores, with what they are worth there."""
    known = [v for v in values if v is not None]
    if len(known) < 20:
        raise ValueError(f"only {len(known)} sentences with a score: too few to choose confidence thresholds on")
    thresholds = {"low": round(quantile(known, LOW_SHARE), 4), "high": round(quantile(known, 1 - HIGH_SHARE), 4)}
    return {**thresholds, "measured": {"split": "valid", "score": "mean log-probability per token", **usefulness(values, chrfs, thresholds)}}


def sentence_chrfs(hypotheses: list[str], references: list[list[str]]) -> list[float]:
    """Each hypothesis's chrF against its references (sacrebleu's, as seq2seq-eval scores)."""
    metric = CHRF()
    return [metric.sentence_score(h, [r for r in refs if r]).score for h, refs in zip(hypotheses, references)]
