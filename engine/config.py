"""The typed run configuration, its presets, its JSON round-trip, and the decoding options.

One `RunConfig` describes a whole run: data, vocabulary, model and training, each a group of
settings whose fields carry their help text and allowed values (engine/models/settings.py);
validation and the command line's options are derived from them.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from engine.models.settings import RecurrentSettings, TransformerSettings, check, setting, settings_of


@dataclass
class DataSettings:
    corpus: str = setting("cmn-eng", "one or more corpora: a named one (downloaded once: cmn-eng, fra-eng, …), tatoeba:eng-cmn (every linked pair of tatoeba.org's exports), a local file (Anki .txt/.zip, TSV, TMX, OPUS's Moses .zip, optionally .gz/.xz/.bz2) or two aligned files as train.en+train.zh, or 'addition'; the valid and test splits come from the first")
    extra_corpora: list[str] = setting([], "more corpora whose pairs are only trained on (valid/test come from the first)", flag=False)
    simplify: bool = setting(True, "tatoeba: corpora: Mandarin read in simplified characters (OpenCC)")
    reverse: bool = setting(False, "train the other direction (target → source)")
    max_pairs: int | None = setting(None, "use only the first N pairs of each corpus", minimum=1)
    max_len: int | None = setting(None, "drop training pairs longer than N tokens on either side", minimum=1)
    skip_bad_lines: bool = setting(False, "skip and count malformed corpus lines instead of stopping")
    valid_fraction: float = setting(0.05, "share of the first corpus's sources held out for validation", minimum=0, below=1)
    test_fraction: float = setting(0.05, "share of the first corpus's sources held out for testing", minimum=0, below=1)
    held_out_max: int | None = setting(5000, "lower valid_fraction and test_fraction where a split would hold more than about this many pairs (a large corpus: tens of thousands of sentences to validate on each epoch)", minimum=1)
    extra_valid_fraction: float = setting(0.0, "share of the extra corpora's sources held out as a second validation split (valid-extra: text from outside the first corpus)", minimum=0, below=1)
    back_translate: list[str] = setting([], "monolingual files (one sentence a line) that --back-translate-with translates into extra training pairs: target-language text is back-translation, source-language text self-training; cached in the run folder")
    back_translate_with: str | None = setting(None, "the run folder (or shipped model: default-zh-en) that translates the --back-translate files", alias="--with")
    back_translate_beam: int = setting(4, "beam size of that translation (1: greedy)", minimum=1)
    synthetic_tag: bool = setting(True, "start each synthetic pair's source with a tag the model learns (real input never has it)")
    synthetic_ratio: float = setting(1.0, "use at most this many synthetic pairs per real training pair", minimum=0)
    join_fraction: float = setting(0.0, "add this share of extra training pairs, each two random pairs joined (longer inputs; attention must find each part)", minimum=0, maximum=4)


@dataclass
class VocabSettings:
    level: str = setting("char", "tokens: subword (SentencePiece, with the text pipeline: normalisation, placeholders, sentences), char, or word (Latin words; CJK characters one token each)", choices=("char", "word", "subword"))
    min_freq: int = setting(1, "char and word levels: rarer tokens become <unk>", minimum=1)
    source_vocab_size: int = setting(4000, "subword level: pieces of the source side (fewer if the text has fewer)", minimum=1)
    target_vocab_size: int = setting(4000, "subword level: pieces of the target side", minimum=1)
    chinese_chars: bool = setting(True, "subword level: a Chinese side in single characters (off: unigram subwords over characters)")
    placeholders: bool = setting(True, "subword level: numbers, kept words and a share of names become placeholders the model learns to copy")
    name_share: float = setting(0.3, "subword level: share of the training pairs with a name of one fixed translation (Tom 汤姆) where it becomes a placeholder", minimum=0, maximum=1)
    dictionary_pairs: int = setting(0, "subword level: add up to N word pairs from CC-CEDICT to the training data", minimum=0)


@dataclass
class TrainSettings:
    optimizer: str = setting("rmsprop", "optimizer", choices=("rmsprop", "adam"))
    learning_rate: float = setting(1e-3, "initial learning rate", above=0)
    warmup_steps: int = setting(0, "raise the learning rate linearly from 0 over the first N steps", minimum=0)
    clipnorm: float | None = setting(5.0, "clip each gradient's norm to this", minimum=0, flag=False)
    label_smoothing: float = setting(0.0, "label smoothing of the token loss", minimum=0, below=1)
    batch_size: int = setting(64, "sentence pairs per step", minimum=1)
    epochs: int = setting(10, "epochs to train (with --resume: extend a finished run to N)", minimum=1)
    patience: int = setting(5, "stop after N epochs without better val_loss (0: never)", minimum=0)
    lr_patience: int = setting(0, "halve the learning rate after N epochs without progress (0: never; not with --decay budget)", minimum=0)
    decay: str = setting("plateau", "learning-rate schedule: plateau (held, halved by --lr-patience), or budget (falls linearly to a fiftieth of it over the training budget: --max-minutes, else --epochs)", choices=("plateau", "budget"))
    jit_compile: bool = setting(False, "compile each training step with XLA (batches padded to multiples of 8)")
    backup_every: int = setting(100, "steps between resumable backups (a crash loses at most N)", minimum=1)
    seed: int = setting(1234, "seed for the split, batch order and initial weights", minimum=0)
    distribute: str = setting("none", "none; mirrored (all local GPUs, or all logical CPUs); or multiworker (several processes or machines)", choices=("none", "mirrored", "multiworker"))
    max_minutes: float | None = setting(None, "stop after the epoch that passes this training time", above=0)
    average_last: int = setting(0, "at the end, average the weights of the last N epochs into best.keras if that scores better on valid (0: off)", minimum=0)


@dataclass
class RunConfig(TrainSettings, TransformerSettings, RecurrentSettings, VocabSettings, DataSettings):
    """A whole run: data, vocabulary, model (the settings of every architecture; the model reads
    those of its `arch`) and training. Written to `config.json`; `--resume` rebuilds everything
    from it. Each field's help and allowed values are in its metadata (engine/models/settings.py)."""

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
        if "held_out_max" not in data:  # runs before 2026-12-07 held out their whole fractions: their splits stay theirs
            data = {**data, "held_out_max": None}
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

    def model_settings(self):
        """The settings of this run's architecture (a dataclass of engine/models/settings.py)."""
        return settings_of(self.arch, dataclasses.asdict(self))

    def validate(self) -> None:
        """Every field against its metadata, then the rules between fields. ValueErrors name
        config fields (the command line says which option sets each)."""
        check(self)
        if self.memory in ("both", "keyed") and self.attention != "luong":
            raise ValueError(f"memory {self.memory} needs attention luong")
        if self.arch == "transformer":
            if self.units % self.heads or (self.units // self.heads) % 2:
                raise ValueError(f"a Transformer's units ({self.units}) must split into heads ({self.heads}) even parts")
            if not self.teacher_forcing:
                raise ValueError("training without teacher_forcing needs arch rnn")
        if self.bidirectional and self.units % 2:
            raise ValueError("a bidirectional encoder needs an even number of units (half for each direction)")
        if not all(isinstance(c, str) and c for c in self.extra_corpora):
            raise ValueError("extra_corpora must be a list of corpus names or paths")
        if self.back_translate and not self.back_translate_with:
            raise ValueError("back_translate needs back_translate_with: the run that translates the files")
        if self.back_translate and self.level != "subword":
            raise ValueError("back_translate needs level subword (the synthetic tag is a piece of its own)")
        if self.valid_fraction + self.test_fraction >= 1:
            raise ValueError("valid_fraction and test_fraction must leave some data to train on")


BATCH_SIZE = 256  # sentences decoded together by default (divided by the beam size)


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode, with the one set of defaults that chat, batch, eval and serve share.

    beam: beam size K (1 = greedy); n_best: hypotheses kept per sentence (≤ K); alpha: length
    normalisation, score = log-prob / length**alpha (None: the model's own, chosen on its
    validation split: decoding.json, see engine/decoding/rerank.py); max_len: most output tokens (None: a
    little over the longest training target); guard: never repeat an n-gram (see
    engine/models/search.py); rerank: rescore the beam with the reverse model (None: the model's
    default), rerank_weight: the reverse model's weight (None: the model's)."""

    beam: int = 4
    n_best: int = 1
    alpha: float | None = None
    max_len: int | None = None
    guard: bool = True  # the repetition guard: no repeated n-gram, output bounded by the source's length
    dictionary: bool = False  # English → Chinese: a word the training data never had is translated by CC-CEDICT
    names: bool = True  # Chinese → English: person names carried as pinyin, places as CC-CEDICT names them (engine/text/names.py)
    rerank: bool | None = None
    rerank_weight: float | None = None

    def __post_init__(self):
        if self.beam < 1 or self.n_best < 1:
            raise ValueError("beam and n_best must be at least 1")
        if self.n_best > self.beam:
            raise ValueError(f"n_best ({self.n_best}) cannot exceed the beam ({self.beam}): a beam of K keeps K hypotheses")
        if self.max_len is not None and self.max_len < 1:
            raise ValueError("max_len must be at least 1")

    @property
    def strategy(self) -> str:
        """The search that decodes with these options (engine/models/search.py STRATEGIES)."""
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


# ----------------------------------------------------------------------------------------------
# Recipes (presets): engine/recipes/<name>.toml, each saying what it sets, and `base = "<name>"`
# for a recipe that differs from another only in what it says; RunConfig's defaults are the base
# of all. The shipped models' cards give the command that makes their config from one of these.

RECIPES = Path(__file__).parent / "recipes"


def read_recipe(name: str, path: Path | None = None, _seen: tuple = ()) -> dict:
    """The settings of recipe `name` (its base's first, then its own), checked to be RunConfig's."""
    path = path or RECIPES / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path}: not a readable recipe: {err}") from err
    unknown = sorted(set(data) - {"base"} - {f.name for f in fields(RunConfig)})
    if unknown:
        raise ValueError(f"{path}: not a setting: {', '.join(unknown)}")
    base = data.pop("base", None)
    if base is None:
        return data
    if base in (*_seen, name):
        raise ValueError(f"{path}: its bases go round in a circle: {' → '.join((*_seen, name, base))}")
    return {**read_recipe(base, None, (*_seen, name)), **data}


PRESETS: dict[str, dict] = {path.stem: read_recipe(path.stem) for path in sorted(RECIPES.glob("*.toml"))}


def preset(name: str, **overrides) -> RunConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    config = RunConfig(**{**PRESETS[name], **overrides})
    config.validate()
    return config
