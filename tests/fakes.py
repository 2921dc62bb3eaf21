"""A stand-in for a trained model in the fast test tier: the tools' own code (chat, batch, the
routing of lines by script) runs for real; only the Translator, which needs TensorFlow and a
trained run, is replaced by one that reverses each line (and honours glossaries, n-best and
sentences the way the real one's results are shaped)."""

from __future__ import annotations

from pathlib import Path

from engine.config import DecodeOptions
from engine.decoding.translation import Hypothesis, Translation, with_memory
from engine.text.direction import EN_ZH, ZH_EN
from engine.text.segment import split_sentences


class ReverseTranslator:
    """Translates a sentence by reversing it; a glossary term comes out as its translation; a
    line of several sentences comes back with one part per sentence; a sentence with a `?` has
    low confidence, others high (a line: its weakest sentence's). `calls` records every call's
    (lines, options, glossary)."""

    def __init__(self, direction: str = EN_ZH):
        self.direction, self.calls = direction, []

    def _sentence(self, sentence: str, options: DecodeOptions, glossary) -> Translation:
        text = sentence[::-1]
        for term, target in (glossary.entries.items() if glossary else ()):
            text = text.replace(term[::-1], target or term)
        hyps = [Hypothesis(text + "!" * k, -0.1 * (k + 1), -0.2 * (k + 1), [], list(text)) for k in range(options.n_best)]
        result = Translation(sentence, text, -0.1, -0.2, [], list(text), list(sentence), [], hyps)
        result.confidence = "low" if "?" in sentence else "high"
        return result

    def translate(self, lines, options: DecodeOptions | None = None, glossary=None, batch_size: int = 256, memory=None, **_):
        return with_memory(lines, memory, lambda rest: self._lines(rest, options, glossary))  # (the memory as the real translator has it)

    def _lines(self, lines, options: DecodeOptions | None, glossary) -> list[Translation]:
        options = options or DecodeOptions(beam=1)
        self.calls.append((list(lines), options, glossary))
        results = []
        for line in lines:
            parts = [self._sentence(s, options, glossary) for s in split_sentences(line)]
            if not parts:
                results.append(Translation(line, "", 0.0, 0.0, [], []))
            elif len(parts) == 1:
                results.append(parts[0])
                parts[0].source = line
            else:
                text = " ".join(p.text for p in parts)
                results.append(Translation(line, text, -0.1, -0.2, [], list(text), list(line), [], [parts[0].n_best[0]], parts=parts,
                                           confidence=min((p.confidence for p in parts), key=("low", "medium", "high").index)))
        return results


class FakeLoader:
    def __init__(self, translator, run):
        self.translator, self.run, self.rewarmed = translator, run, []

    def get(self, spinner: bool = True):
        return self.translator

    def rewarm(self, options) -> None:
        self.rewarmed.append(options)

    def close(self, wait: bool = True) -> bool:
        return True


class FakeRun:
    def __init__(self, name: str):
        self.path = Path(name)


def fake_models(options: DecodeOptions = DecodeOptions(), mode: str = "auto", glossary=None, directions=(EN_ZH, ZH_EN), memory=None):
    """A real repl.models.Models session whose models are ReverseTranslators (one per direction)."""
    from repl.models import Models

    runs = {d: FakeRun(f"fake-{d}") for d in directions}
    models = Models(runs, mode, options=options, glossary=glossary, memory=memory)
    for direction in directions:
        models.loaders[direction] = FakeLoader(ReverseTranslator(direction), runs[direction])
    return models
