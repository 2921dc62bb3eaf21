"""One set of decoding defaults: chat, batch, eval and serve all parse to the same DecodeOptions."""

import pytest

from engine.config import DecodeOptions
from repl import batch, chat, scores
from repl.console import decode_options
from repl.serve import command as serve

PARSERS = {
    "seq2seq-chat": (chat.parser, []),
    "seq2seq-batch": (batch.parser, ["in.txt"]),
    "seq2seq-eval": (scores.parser, []),
    "seq2seq-serve": (serve.parser, []),
}


@pytest.mark.parametrize("tool", PARSERS)
def test_every_tool_decodes_with_the_same_defaults(tool):
    make, required = PARSERS[tool]
    assert decode_options(make().parse_args(required)) == DecodeOptions()


@pytest.mark.parametrize("tool", PARSERS)
def test_every_tool_reads_beam_alpha_and_max_len_the_same_way(tool):
    make, required = PARSERS[tool]
    args = make().parse_args([*required, "--beam", "2", "--alpha", "0.6", "--max-len", "30"])
    assert decode_options(args) == DecodeOptions(beam=2, alpha=0.6, max_len=30)


def test_more_alternatives_than_the_beam_widen_it():
    assert DecodeOptions(beam=2).with_(n_best=5) == DecodeOptions(beam=5, n_best=5)
    with pytest.raises(ValueError, match="at least 1"):
        DecodeOptions(beam=0)


# ----------------------------------------------------------------------------------------------
# Recipes: engine/recipes/*.toml


def test_each_recipe_states_only_what_differs_from_its_base():
    import tomllib

    from engine.config import PRESETS, RECIPES, RunConfig, read_recipe

    assert set(PRESETS) >= {"default", "default-2026-12", "default-zh-en", "default-zh-en-2026-12", "tiny", "tutorial"}
    defaults = RunConfig()
    for path in RECIPES.glob("*.toml"):
        own = tomllib.loads(path.read_text(encoding="utf-8"))
        base = read_recipe(own.pop("base")) if "base" in own else {}
        repeated = {k for k, v in own.items() if base.get(k, getattr(defaults, k)) == v}
        assert repeated == set(), f"{path.name} repeats {repeated}"
        RunConfig(**PRESETS[path.stem]).validate()


def test_a_recipe_with_an_unknown_setting_or_circular_bases_is_named(tmp_path):
    from engine.config import read_recipe

    bad = tmp_path / "bad.toml"
    bad.write_text('units = 64\nunit = 32\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.toml: not a setting: unit"):
        read_recipe("bad", bad)
    looped = tmp_path / "mine.toml"
    looped.write_text('base = "mine"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="mine → mine"):
        read_recipe("mine", looped)
    broken = tmp_path / "broken.toml"
    broken.write_text('units = \n', encoding="utf-8")
    with pytest.raises(ValueError, match="broken.toml: not a readable recipe"):
        read_recipe("broken", broken)
