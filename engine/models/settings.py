"""Each architecture's settings as one dataclass: the fields, their defaults, their help text and
allowed values (field metadata), from which the run config, its validation, the models'
`get_config` and the command line's options are all derived. Plain Python (no TensorFlow), so
`--help` and validation stay fast."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from engine.models.registry import ARCHITECTURES, ATTENTIONS


def setting(default, help: str, *, choices=None, minimum=None, above=None, below=None, maximum=None, flag: bool = True, alias=None):
    """A dataclass field with what `check` and the command line need: help text, allowed values
    (a tuple, or a registry), an inclusive (`minimum`) or exclusive (`above`) lower bound, an
    exclusive (`below`) or inclusive (`maximum`) upper bound. flag: the command line offers it
    as an option of its own (--name, or --name/--no-name for a switch); alias: a second, shorter
    option for it (--with)."""
    metadata = {"help": help, "choices": choices, "minimum": minimum, "above": above, "below": below, "maximum": maximum, "flag": flag, "alias": alias}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def allowed(f: dataclasses.Field) -> tuple | None:
    choices = f.metadata.get("choices")
    return tuple(choices.names) if hasattr(choices, "names") else choices


def check(settings) -> None:
    """Every field of a settings dataclass against its metadata; ValueError names the field."""
    for f in dataclasses.fields(settings):
        value, meta = getattr(settings, f.name), f.metadata
        if hasattr(meta.get("choices"), "check"):
            meta["choices"].check(value)  # a registry: "unknown architecture 'x'; known: …"
        choices = allowed(f)
        if choices is not None and value not in choices:
            raise ValueError(f"{f.name} must be one of {', '.join(map(str, choices))}, not {value!r}")
        if value is None or isinstance(value, (bool, str, list)):
            continue
        problem = out_of_range(value, meta)
        if problem:
            raise ValueError(f"{f.name} {problem}")


def out_of_range(value, meta) -> str | None:
    """What is wrong with a number under a field's bounds ("must be at least 1, not 0"), or None."""
    for key, broken, words in (
        ("minimum", lambda v, b: v < b, "at least"), ("above", lambda v, b: not v > b, "more than"),
        ("below", lambda v, b: not v < b, "below"), ("maximum", lambda v, b: v > b, "at most"),
    ):
        if meta.get(key) is not None and broken(value, meta[key]):
            return f"must be {words} {meta[key]:g}, not {value:g}"
    return None


@dataclass
class ModelSettings:
    """What every architecture has."""

    arch: str = setting("rnn", "architecture", choices=ARCHITECTURES)
    layers: int = setting(1, "stacked recurrent layers, or Transformer blocks, in encoder and decoder", minimum=1)
    units: int = setting(256, "recurrent units (the state size), or the Transformer's width", minimum=1)
    dropout: float = setting(0.0, "dropout on embeddings and between layers (transformer: also in attention and feed-forward)", minimum=0, below=1)


@dataclass
class RecurrentSettings(ModelSettings):
    """The recurrent encoder–decoder (engine/models/recurrent.py)."""

    cell: str = setting("lstm", "recurrent cell", choices=("lstm", "gru"))
    embed_dim: int = setting(128, "embedding size", minimum=1)
    tie_embeddings: bool = setting(False, "the output layer shares the target embedding's table")
    attention: str = setting("none", "attention", choices=ATTENTIONS)
    bidirectional: bool = setting(False, "bidirectional encoder")
    teacher_forcing: bool = setting(True, "feed the decoder the reference's previous token while training (off: its own prediction)")
    input_feeding: bool = setting(False, "with attention, feed each step's attentional vector into the next step")
    decoder_init: str = setting("encoder", "with attention, the decoder starts from the encoder's final states, or from zeros (it reads the source through the attention only)", choices=("encoder", "zeros"))
    memory: str = setting(
        "encoder", "what the attention reads: encoder (its outputs), local (each word with two words of context either side), "
        "both (one head each), or keyed (scores from the word windows, context from both)", choices=("encoder", "local", "both", "keyed"),
    )


@dataclass
class TransformerSettings(ModelSettings):
    """The Transformer (engine/models/transformer.py)."""

    heads: int = setting(4, "attention heads (units must split into them)", minimum=1)
    ff_dim: int = setting(1024, "feed-forward inner size", minimum=1)
    positions: str = setting("sinusoidal", "position encodings", choices=("sinusoidal", "learned"))


SETTINGS = {"rnn": RecurrentSettings, "transformer": TransformerSettings}


def settings_of(arch: str, values: dict):
    """The settings dataclass of `arch` from a dict that may hold more keys (a run config's, or
    an older model's saved ones: missing keys take their defaults; `num_layers` was `layers`)."""
    kind = SETTINGS[arch]
    values = {("layers" if k == "num_layers" else k): v for k, v in values.items()}
    return kind(**{f.name: values[f.name] for f in dataclasses.fields(kind) if f.name in values})
