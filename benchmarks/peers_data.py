"""The data side of the peers benchmark (benchmarks/peers.py), importable without TensorFlow:
our splits written in the peers' input format, and the peers' outputs scored as seq2seq-eval
scores ours.

A direction's folder holds what every peer reads (the Moses format: one sentence a line, the
two languages in files of the same name with the language as suffix, as JoeyNMT's "plain"
dataset and OpenNMT-py's corpora take them):

    train.en train.zh   the training pairs of our run (its first corpus's train split and the
                        extra corpora, after normalisation and deduplication, as `load_split`
                        gives them), source side first in the run's direction
    valid.en valid.zh   our validation split, a pair a line (what the peers validate on)
    test.<src>          our test split's sources, each once (in first-seen order)
    test.refs           their references, the several references of one source separated by TABs
                        (what `seq2seq-eval --refs` reads)
    spm.<lang>.model    a SentencePiece model per side, trained on the training side only
    export.json         the direction, the recipe, the counts and the SentencePiece settings
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import sentencepiece

from engine.data.corpus import load_split
from engine.evaluation.evaluate import group_references, score

# Our recipe per direction, and its languages (source, target).
RECIPES = {"en-zh": "default", "zh-en": "default-zh-en"}
LANGUAGES = {"en-zh": ("en", "zh"), "zh-en": ("zh", "en")}


def write_lines(path: Path, lines) -> int:
    """One line per item; a line break inside a sentence would shift every later line of an
    aligned file, so it is refused rather than written."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            if len(f"{line}x".splitlines()) > 1:  # (\n, \r, and what Python's splitlines also breaks at: \x0b, \x85, \u2028 …)
                raise ValueError(f"{path}: a sentence with a line break cannot be written one a line: {line!r}")
            handle.write(line + "\n")
            count += 1
    return count


def read_lines(path: Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split("\n")[:-1]


def train_sentencepiece(lines_file: Path, prefix: Path, vocab_size: int, chinese: bool) -> None:
    """A unigram SentencePiece model of one side (the peers' documented small-data setting;
    full character coverage on Chinese's large alphabet is not possible: 0.9995 as the
    SentencePiece README advises for it)."""
    sentencepiece.SentencePieceTrainer.train(
        input=str(lines_file), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
        character_coverage=0.9995 if chinese else 1.0, input_sentence_size=2_000_000, shuffle_input_sentence=True,
        hard_vocab_limit=False, minloglevel=2,
    )


def export(config, folder: Path, direction: str) -> dict:
    """Write `config`'s splits into `folder` in the peers' format (see the module's docstring),
    with SentencePiece vocabularies of the sizes our recipe uses on each side; returns what
    export.json records."""
    source_language, target_language = LANGUAGES[direction]
    vocab_sizes = (config.source_vocab_size, config.target_vocab_size)
    folder.mkdir(parents=True, exist_ok=True)
    split, _ = load_split(config)
    counts = {}
    for name, pairs in (("train", split.train), ("valid", split.valid)):
        counts[name] = write_lines(folder / f"{name}.{source_language}", (p.source for p in pairs))
        write_lines(folder / f"{name}.{target_language}", (p.target for p in pairs))
    sources, references = group_references(split.test)
    counts["test"] = write_lines(folder / f"test.{source_language}", sources)
    write_lines(folder / "test.refs", ("\t".join(refs) for refs in references))
    for language, size in zip((source_language, target_language), vocab_sizes):
        train_sentencepiece(folder / f"train.{language}", folder / f"spm.{language}", size, language == "zh")
    facts = {"direction": direction, "source": source_language, "target": target_language, "counts": counts,
             "sentencepiece": {"model_type": "unigram", "vocab_sizes": list(vocab_sizes)},
             "config": {k: v for k, v in asdict(config).items() if k in ("corpus", "extra_corpora", "reverse", "seed",
                                                                       "valid_fraction", "test_fraction", "extra_valid_fraction", "simplify")}}
    (folder / "export.json").write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return facts


def held_out_set(folder: Path) -> tuple[list[str], list[list[str]]]:
    """The test sources and their references as export wrote them."""
    facts = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    sources = read_lines(folder / f"test.{facts['source']}")
    references = [line.split("\t") for line in read_lines(folder / "test.refs")]
    if len(sources) != len(references):
        raise ValueError(f"{folder}: {len(sources)} test sources but {len(references)} reference lines")
    return sources, references


def score_file(folder: Path, hypotheses_file: Path) -> dict:
    """A peer's translations of the test sources (a line each, in order) scored exactly as
    seq2seq-eval scores ours: sacrebleu BLEU (tokenize zh for a Chinese target, else 13a) and
    chrF against every reference."""
    sources, references = held_out_set(folder)
    hypotheses = read_lines(hypotheses_file)
    if len(hypotheses) != len(sources):
        raise ValueError(f"{hypotheses_file}: {len(hypotheses)} lines for {len(sources)} test sources")
    return score(hypotheses, references)
