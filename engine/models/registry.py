"""The named choices of a model, one registry each: architectures and attention kinds.

A registry maps a name to a one-line description and to the class that implements it, given as
"module:Class" and imported only when asked for, so `--help` and config validation read the
names without loading TensorFlow. An unknown name fails with the list of known ones.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    target: str | None  # "module:Class", or None for a choice that needs no class ("none")
    help: str


class Registry:
    def __init__(self, kind: str, entries: dict[str, Entry]):
        self.kind, self.entries = kind, dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def check(self, name: str) -> str:
        """`name` itself, or ValueError naming the known choices."""
        if name not in self.entries:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.entries)}")
        return name

    def help(self) -> str:
        """'a (what a is), b (what b is)' for --help."""
        return ", ".join(f"{name} ({entry.help})" for name, entry in self.entries.items())

    def load(self, name: str):
        """The class registered under `name` (None for a choice without one)."""
        target = self.entries[self.check(name)].target
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


ARCHITECTURES = Registry("architecture", {
    "rnn": Entry("engine.models.recurrent:Seq2Seq", "LSTM or GRU encoder–decoder, --cell, optional --attention"),
    "transformer": Entry("engine.models.transformer:Transformer", "self-attention encoder–decoder, --heads, --ff-dim"),
})

ATTENTIONS = Registry("attention", {
    "none": Entry(None, "the decoder starts from the encoder's final states and reads nothing else"),
    "luong": Entry("engine.models.attention:LuongAttention", "multiplicative"),
    "bahdanau": Entry("engine.models.attention:BahdanauAttention", "additive"),
})
