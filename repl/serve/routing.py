"""Which model translates each string of a request, and the translating itself, shared by
`/translate` (text and HTML) and the web page's `/file`.

A string goes to the model of its language (given, or detected by script) and the target. A
string already in the target language (by `engine.text.script.script_of`) comes back as it is,
unless this server has a model that reads and writes that very language; so does one with
nothing to translate (blank, digits, punctuation) when no model takes its language. Any other
string that no model here translates fails the request (400), naming the pairs it has.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from engine.text.script import script_of
from repl.serve.batcher import Job, QueueFull, Stopping


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Outcome:
    """One string's answer: its translation, or the string itself when it was passed through."""

    text: str
    result: object = None  # engine.decoding.translate.Translation, None when passed through
    maps: list = field(default_factory=list)  # attention maps of its sentences (on request)

    def alternatives(self, count: int) -> list[str]:
        if self.result is None:
            return []
        return [h.text for h in self.result.n_best[1:] if h.text != self.text][:count]

    def memory(self) -> dict | None:
        """The translation memory's part in this string: an exact match (its translation is
        `text`) or a similar entry offered beside the model's translation; None when neither."""
        match = getattr(self.result, "memory", None)
        if match is None:
            return None
        entry = match.entry
        return {"match": match.score, "source": entry.source, "translation": entry.target, "origin": entry.origin, "time": entry.time}

    def scores(self, count: int) -> list[dict]:
        if self.result is None:
            return []
        best = [{"text": self.text, "score": round(float(self.result.score), 4)}]
        return best + [{"text": h.text, "score": round(float(h.score), 4)} for h in self.result.n_best[1:] if h.text != self.text][:count]


def route(text: str, language: str, target: str, served) -> tuple[str, str] | None:
    """The (source, target) pair of the model that translates `text` (written in `language`), or
    None when it comes back as it is (see the module's doc); ApiError when no model here can."""
    script = script_of(text)
    if not text.strip() or (script == target and (target, target) not in served):
        return None
    if (language, target) in served:
        return language, target
    if script is None:
        return None
    pairs = ", ".join(f"{a} to {b}" for a, b in served)
    raise ApiError(400, f"no model here translates {language} to {target}; this server translates {pairs}")


def legacy(batcher) -> bool:
    """Whether the model cannot apply a glossary (trained before placeholders: char/word runs)."""
    return bool(getattr(getattr(batcher.translator, "pipeline", None), "legacy", False))


async def translate_many(state, texts: list[str], pairs: list, options, glossary=None, attention: bool = False,
                         own_glossary: bool = False, memory: bool = True) -> list[Outcome]:
    """Each string through its pair's batcher, all pairs at once; outcomes in input order.
    own_glossary: the request brought a glossary, so a model that cannot apply one is a 400."""
    groups: dict[tuple, list[int]] = {}
    for i, pair in enumerate(pairs):
        if pair is not None:
            groups.setdefault(pair, []).append(i)
    if own_glossary:
        for pair in groups:
            if legacy(state.batchers[pair]):
                raise ApiError(400, f"glossary: the {pair[0]}→{pair[1]} model here was trained without placeholders and cannot apply one")
    jobs = [Job([texts[i] for i in rows], options, glossary, attention, memory=memory) for rows in groups.values()]
    try:
        await asyncio.gather(*(state.batchers[pair].run(job) for pair, job in zip(groups, jobs)))
    except QueueFull:
        raise ApiError(503, "the translation queue is full; try again shortly") from None
    except Stopping:
        raise ApiError(503, "shutting down") from None
    outcomes = [Outcome(text) for text in texts]
    for rows, job in zip(groups.values(), jobs):
        for k, i in enumerate(rows):
            outcomes[i] = Outcome(job.results[k].text, job.results[k], job.maps[k] if job.maps else [])
    return outcomes
