"""Evaluation with sacrebleu: corpus BLEU (tokenize="zh" for a Chinese target, else 13a) and
chrF, with every reference of a source that has several translations.
"""

from __future__ import annotations

import random
import time

import sacrebleu

from engine.corpus import Pair, load_split
from engine.vocab import is_chinese


def group_references(pairs: list[Pair]) -> tuple[list[str], list[list[str]]]:
    """Sources in first-seen order, each with all of its references."""
    grouped: dict[str, list[str]] = {}
    for pair in pairs:
        grouped.setdefault(pair.source, []).append(pair.target)
    return list(grouped), list(grouped.values())


def held_out(config, split_name: str = "test") -> tuple[list[str], list[list[str]]]:
    """The sources of a run's valid or test split, each with all of its references."""
    split, _ = load_split(config)
    return group_references(getattr(split, split_name))


def reference_streams(references: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu wants one stream per reference position; missing ones are None."""
    width = max((len(r) for r in references), default=1)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def bleu_tokenizer(references: list[list[str]]) -> str:
    sample = "".join(r[0] for r in references[:200] if r)
    return "zh" if is_chinese(sample) else "13a"


def score(hypotheses: list[str], references: list[list[str]]) -> dict:
    """Corpus BLEU and chrF with their sacrebleu signatures."""
    streams = reference_streams(references)
    bleu = sacrebleu.metrics.BLEU(tokenize=bleu_tokenizer(references))
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(hypotheses, streams)
    chrf_score = chrf.corpus_score(hypotheses, streams)
    return {
        "bleu": round(bleu_score.score, 2),
        "chrf": round(chrf_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "sentences": len(hypotheses),
        "references": sum(len(r) for r in references),
    }


def examples(sources, hypotheses, references, count: int = 3, seed: int = 0) -> dict:
    """Best, worst and random examples by sentence chrF, for a report a person reads."""
    chrf = sacrebleu.metrics.CHRF()
    rows = [
        {"source": s, "translation": h, "references": r, "chrf": round(chrf.sentence_score(h, r).score, 1)}
        for s, h, r in zip(sources, hypotheses, references)
    ]
    ranked = sorted(rows, key=lambda row: -row["chrf"])
    rng = random.Random(seed)
    return {"best": ranked[:count], "worst": ranked[-count:][::-1], "random": rng.sample(rows, min(count, len(rows)))}


def evaluate(translator, sources: list[str], references: list[list[str]], beam: int = 1, alpha: float = 1.0) -> dict:
    """Translate `sources` and score them; returns the report (scores, settings, examples)."""
    started = time.perf_counter()
    translations = translator.translate(sources, beam=beam, alpha=alpha)
    seconds = time.perf_counter() - started
    hypotheses = [t.text for t in translations]
    report = score(hypotheses, references)
    report |= {
        "decoding": {"beam": beam, "alpha": alpha},
        "seconds": round(seconds, 2),
        "examples": examples(sources, hypotheses, references),
    }
    return report
