"""Evaluation with sacrebleu: corpus BLEU (tokenize="zh" for a Chinese target, else 13a) and
chrF, with every reference of a source that has several translations; scores by source length;
and an alignment measure: does the attention look at "Tom" while the model writes 汤姆?
"""

from __future__ import annotations

import collections
import random
import re
import time
from dataclasses import dataclass

import numpy as np
import sacrebleu

from engine.config import DecodeOptions
from engine.data.corpus import SPLITS, load_split
from engine.data.files import Pair
from engine.data.vocab import UNK
from engine.decoding.confidence import sentence_chrfs, token_log_prob, usefulness
from engine.text.normalise import normalise
from engine.text.script import is_chinese
from engine.text.shared_spans import whole_word

# Source-length buckets of the report, in words: (label, shortest, longest).
LENGTH_BUCKETS = (("≤ 5 words", 0, 5), ("6–9 words", 6, 9), ("≥ 10 words", 10, None))
# Chinese sources are counted in characters (about 1.5 to an English word on Tatoeba).
CHINESE_LENGTH_BUCKETS = (("≤ 8 characters", 0, 8), ("9–14 characters", 9, 14), ("≥ 15 characters", 15, None))

# English names with one fixed Chinese form. `name_lexicon` keeps those that the training data
# itself confirms (see MIN_NAME_PAIRS, MIN_NAME_AGREEMENT); on cmn-eng's train split that keeps
# e.g. Tom 汤姆 (94% of ~2,900 pairs), Mary 玛丽, Boston 波士顿, Japan 日本, Tokyo 东京, London 伦敦.
NAME_CANDIDATES = {
    "Tom": "汤姆", "Mary": "玛丽", "John": "约翰", "Boston": "波士顿", "Japan": "日本", "Paris": "巴黎",
    "China": "中国", "London": "伦敦", "America": "美国", "France": "法国", "Tokyo": "东京", "Kyoto": "京都",
    "Germany": "德国", "Canada": "加拿大", "Italy": "意大利", "Osaka": "大阪", "Europe": "欧洲",
    "Africa": "非洲", "India": "印度", "Hawaii": "夏威夷", "Chicago": "芝加哥", "Hokkaido": "北海道",
    "Australia": "澳大利亚", "Jim": "吉姆", "Jack": "杰克", "Mike": "迈克", "Alice": "爱丽丝",
}
MIN_NAME_PAIRS = 5  # a name must occur in at least this many training pairs …
MIN_NAME_AGREEMENT = 0.75  # … and its Chinese form in at least this share of them


def group_references(pairs: list[Pair]) -> tuple[list[str], list[list[str]]]:
    """Sources in first-seen order, each with all of its references."""
    grouped: dict[str, list[str]] = {}
    for pair in pairs:
        grouped.setdefault(pair.source, []).append(pair.target)
    return list(grouped), list(grouped.values())


def held_out(config, split_name: str = "test") -> tuple[list[str], list[list[str]]]:
    """The sources of a run's valid, test or valid-extra split, each with all of its references
    (valid and test come from its first corpus only: the others are not read; valid-extra from
    the others, for a run trained with extra_valid_fraction)."""
    if split_name not in SPLITS:
        raise ValueError(f"unknown split {split_name!r}; choose from {', '.join(SPLITS)}")
    if split_name == "valid-extra" and not getattr(config, "extra_valid_fraction", 0.0):
        raise ValueError("this run holds out no valid-extra split (it was trained without --extra-valid-fraction)")
    split, _ = load_split(config, extra=split_name == "valid-extra", keep_train=False)
    return group_references(getattr(split, split_name.replace("-", "_")))


# ----------------------------------------------------------------------------------------------
# Rare words: sentences with a source word the training split has fewer than RARE times

RARE = 3
_WORD_RUN = re.compile(r"\w+")
_RARE_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def word_counts(train_pairs: list[Pair]) -> collections.Counter:
    """How often each source word (English: lowercased words; Chinese: characters) is in training."""
    counts = collections.Counter()
    for pair in train_pairs:
        counts.update(_words(normalise(pair.source)))
    return counts


def _words(text: str) -> list[str]:
    return [c for c in text if is_chinese(c)] if is_chinese(text) else [w.lower() for w in _RARE_WORD.findall(text)]


def rare_word_sentences(sources: list[str], counts: collections.Counter) -> list[int]:
    """Indices of the sources with a word seen fewer than RARE times in training."""
    return [i for i, s in enumerate(sources) if any(counts[w] < RARE for w in _words(normalise(s)))]


def unrepresentable_share(translations) -> float | None:
    """The share of the source tokens the model read as <unk> (0 with subwords and byte
    fallback; word and character vocabularies lose whatever they did not keep)."""
    ids = [i for t in translations for part in (t.parts or [t]) for i in part.src_ids]
    return round(sum(i == UNK for i in ids) / len(ids), 4) if ids else None


def run_lexicon(config, vocabs) -> tuple[dict[str, str], str]:
    """The names the alignment measure looks for, for an English → Chinese run: picked from its
    training split (`name_lexicon`) when the corpus can be read, else the candidates whose
    English word and Chinese characters are all in the run's vocabularies. Returns (lexicon,
    where it came from); an empty lexicon for any other direction."""
    src_vocab, tgt_vocab = vocabs
    if src_vocab.level == "char" or src_vocab.chinese or not tgt_vocab.chinese:
        return {}, "none (the alignment measure needs English words in and Chinese out)"
    try:
        split, _ = load_split(config, extra=False)
    except (OSError, ValueError):  # no corpus on this machine
        known = {
            e: z for e, z in NAME_CANDIDATES.items() if e in src_vocab.index and all(c in tgt_vocab.index for c in z)
        }
        return known, "the candidate list, restricted to the vocabularies (the training corpus is not here)"
    return name_lexicon(split.train), "the training split"


def training_counts(config) -> collections.Counter | None:
    """The source word counts of a run's first corpus's train split (the rare-word subset is
    defined on it, so that runs with and without extra data are scored on the same sentences);
    None when the corpus is not on this machine."""
    try:
        split, _ = load_split(config, extra=False)
    except (OSError, ValueError):
        return None
    return word_counts(split.train)


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


def evaluate(
    translator, sources: list[str], references: list[list[str]], beam: int = 1, alpha: float = 1.0,
    lexicon: dict[str, str] | None = None, options: DecodeOptions | None = None, glossary=None,
    train_counts: collections.Counter | None = None,
) -> dict:
    """Translate `sources` and score them; returns the report (scores, scores by source length,
    name alignment over the names of `lexicon`, settings, examples). options, when given, say
    how to decode instead of beam and alpha."""
    options = options or DecodeOptions(beam=beam, alpha=alpha)
    started = time.perf_counter()
    translations = translator.translate(sources, options=options, glossary=glossary)
    seconds = time.perf_counter() - started
    hypotheses = [t.text for t in translations]
    report = score(hypotheses, references)
    report |= {
        "by_length": scores_by_length(sources, hypotheses, references),
        "alignment": alignment(translator, translations, lexicon or {}),
        "unrepresentable_share": unrepresentable_share(translations),
        "decoding": {
            "beam": options.beam, "alpha": translator.alpha(options), "rerank": translator.reranks(options), "guard": options.guard, "dictionary": options.dictionary,
            **({"max_len": options.max_len} if options.max_len else {}),
        },
        "seconds": round(seconds, 2),
        "examples": examples(sources, hypotheses, references),
    }
    thresholds = getattr(getattr(translator, "defaults", None), "confidence", None)
    if thresholds:  # (what "low" catches on this split: engine/decoding/confidence.py)
        chrfs = sentence_chrfs(hypotheses, references)
        report["confidence"] = usefulness([token_log_prob(t) for t in translations], chrfs, thresholds)
    if train_counts is not None:
        rare = rare_word_sentences(sources, train_counts)
        if rare:
            part = score([hypotheses[i] for i in rare], [references[i] for i in rare])
            report["rare_words"] = {"sentences": len(rare), "bleu": part["bleu"], "chrf": part["chrf"], "seen_fewer_than": RARE}
    return report


# ----------------------------------------------------------------------------------------------
# Scores by source length


def source_words(source: str) -> int:
    """Length in words: Latin words and numbers, or Chinese characters (punctuation not counted)."""
    return len(re.findall(r"[^\W\d_]+(?:['’]\w+)*|\d+", source)) if not is_chinese(source) else sum(map(is_chinese, source))


def scores_by_length(sources, hypotheses, references) -> list[dict]:
    """BLEU and chrF of each source-length bucket (LENGTH_BUCKETS, or CHINESE_LENGTH_BUCKETS for
    Chinese sources); empty buckets are left out."""
    rows = []
    chinese = is_chinese("".join(sources[:200]))
    for label, shortest, longest in CHINESE_LENGTH_BUCKETS if chinese else LENGTH_BUCKETS:
        picked = [
            i for i, s in enumerate(sources)
            if shortest <= source_words(s) and (longest is None or source_words(s) <= longest)
        ]
        if picked:
            part = score([hypotheses[i] for i in picked], [references[i] for i in picked])
            rows.append({"bucket": label, "sentences": len(picked), "bleu": part["bleu"], "chrf": part["chrf"]})
    return rows


# ----------------------------------------------------------------------------------------------
# Alignment: where the attention looks while the model writes a name


def name_lexicon(train_pairs: list[Pair], candidates: dict[str, str] = NAME_CANDIDATES) -> dict[str, str]:
    """The candidate names that the training data translates one fixed way: the English name
    occurs in at least MIN_NAME_PAIRS pairs, and the Chinese form is in MIN_NAME_AGREEMENT of them."""
    # One pass over the pairs: a one-word name stands in a sentence as a whole run of word
    # characters (what `\bTom\b` finds), so the sentence's runs say which names it has.
    single = {e for e in candidates if _WORD_RUN.fullmatch(e)}
    longer = {e: whole_word(e) for e in candidates if e not in single}  # ("New York": searched as before)
    pairs_with = {english: 0 for english in candidates}
    agreeing = dict(pairs_with)
    for pair in train_pairs:
        present = single.intersection(_WORD_RUN.findall(pair.source))
        present.update(e for e, pattern in longer.items() if pattern.search(pair.source))
        for english in present:
            pairs_with[english] += 1
            agreeing[english] += candidates[english] in pair.target
    return {
        english: chinese for english, chinese in candidates.items()
        if pairs_with[english] >= MIN_NAME_PAIRS and agreeing[english] >= MIN_NAME_AGREEMENT * pairs_with[english]
    }


@dataclass
class AlignmentCount:
    """Output characters of names whose attention peak was on the name (hits) out of all
    (total); and, over every output token, how many peaked in the last fifth of the source."""

    hits: int = 0
    total: int = 0
    sentences: int = 0
    end_peaks: int = 0
    peaks: int = 0

    def add(self, other: AlignmentCount) -> None:
        for name in ("hits", "total", "sentences", "end_peaks", "peaks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def report(self) -> dict:
        return {
            "name_alignment": round(self.hits / self.total, 3) if self.total else None,
            "name_characters": self.total,
            "sentences": self.sentences,
            "peaks_in_last_fifth": round(self.end_peaks / self.peaks, 3) if self.peaks else None,
        }


def _is_name_token(token: str, name: str) -> bool:
    """`Tom`, and `Tom's` (the tokenizer keeps an inner apostrophe in the word)."""
    return token == name or token.startswith(name + "'") or token.startswith(name + "’")


def source_words_of(tokens: list[str]) -> list[tuple[str, list[int]]]:
    """(word, its token positions) of source tokens: word-level tokens are words; SentencePiece
    pieces are grouped into words at each "▁" (a word-start mark)."""
    if not any(t.startswith("▁") for t in tokens):
        return [(t, [i]) for i, t in enumerate(tokens)]
    words: list[tuple[str, list[int]]] = []
    for i, token in enumerate(tokens):
        if token.startswith("▁") or not words:
            words.append((token.lstrip("▁"), [i]))
        else:
            words[-1] = (words[-1][0] + token, words[-1][1] + [i])
    return words


def name_positions(tokens: list[str], name: str) -> set[int]:
    """Positions of the source tokens that spell `name` (any case, with or without 's)."""
    lowered = name.lower()
    return {i for word, positions in source_words_of(tokens) if _is_name_token(word.lower(), lowered) for i in positions}


def align_names(source_tokens: list[str], output_tokens: list[str], weights: np.ndarray, lexicon: dict[str, str]) -> AlignmentCount:
    """Count, for one translation, the output characters of each lexicon name that appears in
    both the source and the output, and how many of them have their attention peak (argmax over
    source tokens of `weights`, shape (output tokens [+ EOS], source tokens)) on that name."""
    count = AlignmentCount()
    peaks = np.asarray(weights)[: len(output_tokens)].argmax(-1)
    width = len(source_tokens)
    count.peaks = len(peaks)
    count.end_peaks = int(np.sum(peaks >= width - max(1, width // 5))) if width else 0
    output = "".join(output_tokens)
    starts = np.cumsum([0] + [len(t) for t in output_tokens])  # character offset of each token
    for english, chinese in lexicon.items():
        on_name = name_positions(source_tokens, english)
        if not on_name or chinese not in output:
            continue
        count.sentences += 1
        for match in re.finditer(re.escape(chinese), output):
            tokens = {int(np.searchsorted(starts, c, side="right")) - 1 for c in range(match.start(), match.end())}
            count.total += len(tokens)
            count.hits += sum(int(peaks[t]) in on_name for t in tokens)
    return count


def alignment(translator, translations, lexicon: dict[str, str]) -> dict:
    """The name alignment of a model over its translations (only those of sentences that name
    someone in `lexicon` need their attention computed). name_alignment is None, with `why`,
    for a model without attention or an empty lexicon."""
    if not translator.model.has_attention:
        return AlignmentCount().report() | {"why": "the model has no attention"}
    if not lexicon:
        return AlignmentCount().report() | {"why": "no names to look for in this direction"}
    total = AlignmentCount()
    for translation in translations:
        mentioned = any(name_positions(translation.source_tokens, e) for e in lexicon)
        if not mentioned or not any(c in translation.text for c in lexicon.values()):
            continue
        weights = translator.attention_of(translation)
        if weights is not None:
            total.add(align_names(translation.source_tokens, translation.tokens, weights, lexicon))
    return total.report() | {"names": lexicon}
