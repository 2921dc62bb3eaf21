"""The typed run configuration, its presets, and its JSON round-trip.

One `RunConfig` describes a whole run: data, vocabulary, model and training. It is written to
`config.json` in the run folder, and `--resume` rebuilds everything from it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.registry import ARCHITECTURES, ATTENTIONS

# The fields a model is built from (RunConfig.model_settings).
MODEL_FIELDS = (
    "arch", "cell", "layers", "units", "heads", "ff_dim", "positions", "embed_dim", "dropout", "attention",
    "bidirectional", "teacher_forcing", "input_feeding", "decoder_init", "memory", "tie_embeddings",
)


@dataclass
class RunConfig:
    # data
    corpus: str = "cmn-eng"  # a named corpus (downloaded once), tatoeba:<a>-<b>, a local .txt/.zip, or "addition"
    extra_corpora: list[str] = field(default_factory=list)  # more training pairs; valid/test come from `corpus` only
    simplify: bool = True  # tatoeba: corpora with Mandarin: traditional characters read as simplified
    reverse: bool = False  # train target → source instead
    max_pairs: int | None = None  # use only the first N pairs of the corpus
    max_len: int | None = None  # drop training pairs with more tokens than this on either side
    skip_bad_lines: bool = False
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    join_fraction: float = 0.0  # add this share of training pairs made of two joined pairs
    # vocabulary
    level: str = "char"  # "char" | "word" (Latin words, CJK characters one token each) | "subword"
    min_freq: int = 1  # char and word levels: rarer tokens become <unk>
    # subword level (SentencePiece, trained on the train split): the text pipeline of
    # engine/text (normalisation, placeholders for spans to copy, sentences) comes with it
    source_vocab_size: int = 4000
    target_vocab_size: int = 4000
    chinese_chars: bool = True  # a Chinese side in characters (else unigram subwords over characters)
    placeholders: bool = True  # numbers, kept words and a share of names become placeholders to copy
    name_share: float = 0.3  # share of the training pairs with a fixed-translation name (Tom 汤姆) that get a placeholder for it
    dictionary_pairs: int = 0  # add up to N word pairs from CC-CEDICT to the training data
    # model
    arch: str = "rnn"  # see engine/registry.py: "rnn" | "transformer"
    cell: str = "lstm"  # "lstm" | "gru"
    layers: int = 1  # recurrent layers, or Transformer blocks, in the encoder and in the decoder
    units: int = 256  # recurrent state size, or the Transformer's width
    heads: int = 4  # transformer: attention heads
    ff_dim: int = 1024  # transformer: feed-forward inner size
    positions: str = "sinusoidal"  # transformer: "sinusoidal" | "learned"
    embed_dim: int = 128
    dropout: float = 0.0
    tie_embeddings: bool = False  # rnn: the output layer shares the target embedding's table
    attention: str = "none"  # "none" | "luong" | "bahdanau"
    bidirectional: bool = False
    teacher_forcing: bool = True  # False: the decoder is fed its own previous prediction
    input_feeding: bool = False  # attention: feed the attentional vector back into the decoder
    decoder_init: str = "encoder"  # attention: decoder starts from the encoder's states, or zeros
    memory: str = "encoder"  # attention reads the encoder's outputs, "local" word windows, or "both" (two heads)
    # training
    optimizer: str = "rmsprop"  # "rmsprop" | "adam"
    learning_rate: float = 1e-3
    warmup_steps: int = 0  # raise the learning rate linearly from 0 over this many first steps
    clipnorm: float | None = 5.0
    label_smoothing: float = 0.0
    batch_size: int = 64
    epochs: int = 10
    patience: int = 5  # EarlyStopping on val_loss; 0 turns it off
    lr_patience: int = 0  # halve the learning rate after this many epochs without progress; 0: off
    jit_compile: bool = False  # compile each training step with XLA (see benchmarks/train_speed.py)
    backup_every: int = 100  # steps between resumable backups: a crash loses at most this many
    seed: int = 1234
    distribute: str = "none"  # "none" | "mirrored" | "multiworker" (see engine/distribute.py)
    max_minutes: float | None = None  # stop after the first epoch that ends past this budget
    average_last: int = 0  # best.keras holds the mean weights of the last N epochs' models when that scores better on valid

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """A config from parsed JSON, every value checked against its field's type first (a
        damaged config.json fails with the field named, not deep inside training)."""
        if not isinstance(data, dict):
            raise ValueError(f"a run config is a JSON object, not {type(data).__name__}")
        if data.get("extra") == {}:  # an always-empty field that runs before 2026-11-28 wrote
            data = {k: v for k, v in data.items() if k != "extra"}
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        for name, value in data.items():
            if not _has_type(value, hints[name]):
                raise ValueError(f"{name} must be {_type_name(hints[name])}, not {json.dumps(value)}")
        config = cls(**data)
        config.validate()
        return config

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def model_settings(self) -> dict:
        """The part of the config a model is built from (it takes it whole and picks its keys)."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    def validate(self) -> None:
        ARCHITECTURES.check(self.arch)
        ATTENTIONS.check(self.attention)
        choices = {
            "level": ("char", "word", "subword"),
            "cell": ("lstm", "gru"),
            "positions": ("sinusoidal", "learned"),
            "decoder_init": ("encoder", "zeros"),
            "memory": ("encoder", "local", "both", "keyed"),
            "optimizer": ("rmsprop", "adam"),
            "distribute": ("none", "mirrored", "multiworker"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.memory in ("both", "keyed") and self.attention != "luong":
            raise ValueError(f"memory {self.memory} needs --attention luong")
        if self.arch == "transformer":
            if self.units % self.heads or (self.units // self.heads) % 2:
                raise ValueError(f"a Transformer's --units ({self.units}) must split into --heads ({self.heads}) even parts")
            if not self.teacher_forcing:
                raise ValueError("training without teacher forcing needs --arch rnn")
        if self.bidirectional and self.units % 2:
            raise ValueError("a bidirectional encoder needs an even --units (half for each direction)")
        for name in ("layers", "units", "heads", "ff_dim", "embed_dim", "batch_size", "epochs", "backup_every", "min_freq",
                     "source_vocab_size", "target_vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        if not 0 <= self.name_share <= 1 or not 0 <= self.label_smoothing < 1:
            raise ValueError("name_share must be from 0 to 1, label_smoothing from 0 to below 1")
        for name in ("dictionary_pairs", "average_last"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (off) or more")
        if not all(isinstance(c, str) and c for c in self.extra_corpora):
            raise ValueError("extra_corpora must be a list of corpus names or paths")
        if not 0 <= self.join_fraction <= 4:
            raise ValueError("join_fraction must be from 0 to 4")
        for name in ("max_pairs", "max_len"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("patience", "lr_patience", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (off) or more")
        if not self.learning_rate > 0 or (self.max_minutes is not None and not self.max_minutes > 0):
            raise ValueError("learning_rate and max_minutes must be positive")
        if not (0 <= self.valid_fraction < 1 and 0 <= self.test_fraction < 1 and self.valid_fraction + self.test_fraction < 1):
            raise ValueError("valid_fraction and test_fraction must be in [0, 1) and leave some data to train on")


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode, with the one set of defaults that chat, batch, eval and serve share.

    beam: beam size K (1 = greedy); n_best: hypotheses kept per sentence (≤ K); alpha: length
    normalisation, score = log-prob / length**alpha; max_len: most output tokens (None: a little
    over the longest training target); guard: never repeat an n-gram (see engine/search.py)."""

    beam: int = 4
    n_best: int = 1
    alpha: float = 1.0
    max_len: int | None = None
    guard: bool = True  # the repetition guard: no repeated n-gram, output bounded by the source's length

    def __post_init__(self):
        if self.beam < 1 or self.n_best < 1:
            raise ValueError("beam and n_best must be at least 1")
        if self.n_best > self.beam:
            raise ValueError(f"n_best ({self.n_best}) cannot exceed the beam ({self.beam}): a beam of K keeps K hypotheses")
        if self.max_len is not None and self.max_len < 1:
            raise ValueError("max_len must be at least 1")

    @property
    def strategy(self) -> str:
        """The search that decodes with these options (engine/search.py STRATEGIES)."""
        return "greedy" if self.beam == 1 else "beam"

    def with_(self, **changes) -> DecodeOptions:
        """A copy with some fields changed, keeping n_best ≤ beam: a larger n_best widens the
        beam to match; a smaller beam lowers n_best to it."""
        beam, n_best = changes.get("beam", self.beam), changes.get("n_best", self.n_best)
        if "n_best" in changes:
            beam = max(beam, n_best)
        else:
            n_best = min(n_best, beam)
        return replace(self, **{**changes, "beam": beam, "n_best": n_best})


def _has_type(value, hint) -> bool:
    """Whether a JSON value fits a field's annotation (int, float, bool, str, dict, X | None)."""
    if isinstance(hint, types.UnionType):
        return any(_has_type(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # JSON writes 2.0 as 2.0, but a person may write 2
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typing.get_origin(hint) or hint)


def _type_name(hint) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "a string", dict: "an object", list: "a list"}
    return "null" if hint is type(None) else names.get(typing.get_origin(hint) or hint, str(hint))


PRESETS: dict[str, dict] = {
    # The Keras tutorial's model: character level, one LSTM layer of 256 units, rmsprop, batch 64,
    # 10,000 pairs, 100 epochs (it uses one-hot inputs; we use embeddings of the same role).
    "tutorial": dict(
        level="char", cell="lstm", layers=1, units=256, embed_dim=128, attention="none",
        bidirectional=False, optimizer="rmsprop", learning_rate=1e-3, batch_size=64,
        max_pairs=10000, epochs=100, dropout=0.0, patience=0,
    ),
    # The shipped default: English → Chinese on every Tatoeba pair (the Anki file first: its
    # valid and test splits), English in SentencePiece subwords read without case, Chinese out in
    # characters, the text pipeline of engine/text (normalisation, placeholders to copy numbers
    # and unknown names, sentences); bidirectional LSTM encoder, Luong attention keyed by word
    # windows with input feeding, the decoder started from the encoder, output layer tied to the
    # target embedding. Chosen on the validation split (see checkpoints/default/README.md).
    "default": dict(
        corpus="cmn-eng", extra_corpora=["tatoeba:eng-cmn"], level="subword", source_vocab_size=4000,
        target_vocab_size=4000, chinese_chars=True, placeholders=True, name_share=0.3,
        cell="lstm", layers=1, units=256, embed_dim=128, tie_embeddings=True,
        attention="luong", bidirectional=True, input_feeding=True, decoder_init="encoder", memory="keyed",
        join_fraction=0.5, optimizer="adam", learning_rate=2e-3, batch_size=64, dropout=0.3, label_smoothing=0.1,
        epochs=60, patience=5, lr_patience=2, max_minutes=42, average_last=3,
    ),
    # The shipped Chinese → English model: the same recipe the other way round (Chinese in as
    # characters, English out in subwords).
    "default-zh-en": dict(
        corpus="cmn-eng", extra_corpora=["tatoeba:eng-cmn"], reverse=True, level="subword", source_vocab_size=4000,
        target_vocab_size=4000, chinese_chars=True, placeholders=True, name_share=0.3,
        cell="lstm", layers=1, units=256, embed_dim=128, tie_embeddings=True,
        attention="luong", bidirectional=True, input_feeding=True, decoder_init="zeros", memory="keyed",
        join_fraction=0.5, optimizer="adam", learning_rate=2e-3, batch_size=64, dropout=0.3, label_smoothing=0.1,
        epochs=60, patience=5, lr_patience=2, max_minutes=42, average_last=3,
    ),
    # The recipes of the models shipped until 2026-11 (word level, the Anki file only), kept to
    # compare with (benchmarks/time_to_quality.py). The first: English words in, Chinese characters out, bidirectional encoder with
    # Luong attention that aligns: input feeding, scaled scores, and a decoder that starts empty,
    # so every source word it uses comes through the attention (started from the encoder's final
    # states, the decoder wrote even names without looking at them: 0.28 of name characters
    # looked at the name, against 1.00 when it starts empty; valid BLEU within 0.6 either way).
    # Tuned on the validation split; trains in about 42 minutes on 2 CPU cores.
    "word-2026-11": dict(
        # Sized to ship: about 2.36 M parameters, under 10 MB as float32.
        level="word", min_freq=2, cell="lstm", layers=1, units=256, embed_dim=96,
        attention="luong", bidirectional=True, input_feeding=True, decoder_init="encoder", memory="keyed",
        join_fraction=0.5, optimizer="adam", learning_rate=2e-3, batch_size=64, dropout=0.3, label_smoothing=0.1,
        epochs=60, patience=5, lr_patience=2, max_minutes=42,
    ),
    # The shipped Chinese → English model: Chinese characters in, English words out (chosen on the
    # validation split over characters out: see checkpoints/default-zh-en/README.md), the
    # default's layout otherwise. min_freq 3 keeps it under 10 MB (English words seen twice add
    # 1,100 rows to the output layer). Trains in about 42 minutes on 2 CPU cores.
    "word-zh-en-2026-11": dict(
        reverse=True, level="word", min_freq=3, cell="lstm", layers=1, units=256, embed_dim=96,
        attention="luong", bidirectional=True, input_feeding=True, decoder_init="zeros", join_fraction=0.5,
        optimizer="adam", learning_rate=2e-3, batch_size=64, dropout=0.3, label_smoothing=0.1,
        epochs=60, patience=5, lr_patience=2, max_minutes=42,
    ),
    # A small Transformer in the default's place (English words in, Chinese characters out):
    # 3 + 3 pre-norm blocks 128 wide, 4 heads, tied output embedding; sized to ship under 10 MB.
    "transformer": dict(
        arch="transformer", level="word", min_freq=2, layers=3, units=128, heads=4, ff_dim=512,
        dropout=0.2, join_fraction=0.5, optimizer="adam", learning_rate=1e-3, warmup_steps=1000,
        batch_size=64, label_smoothing=0.1, epochs=200, patience=5, lr_patience=2, max_minutes=42,
    ),
    # A seconds-long model for the synthetic addition task (tests, demos).
    "tiny": dict(
        corpus="addition", level="char", cell="lstm", units=64, embed_dim=32, optimizer="adam",
        learning_rate=5e-3, batch_size=64, epochs=10, patience=0, max_pairs=5000,
    ),
}


def preset(name: str, **overrides) -> RunConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    config = RunConfig(**{**PRESETS[name], **overrides})
    config.validate()
    return config
