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
