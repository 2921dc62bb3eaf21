"""Dynamic batching for `seq2seq-serve`: requests that arrive together are decoded together.

Each request's strings go into one bounded queue (full: `QueueFull`, answered 503). One worker
thread owns the translator (TensorFlow is called from that thread only): it takes everything that
arrives within a small window (`--batch-window-ms`), decodes each group of equal settings in one
call to the compiled batched decoder, and wakes the waiting requests through their event loop. A
lone request waits at most the window; many concurrent clients share batches.

A large job (a file's chunk, 5,000 characters of tiny sentences) is decoded batch by batch, and
between two batches the worker takes the small jobs that arrived meanwhile (a sentence typed in
the page, a `/health`-like probe of `/translate`) and decodes them at once; larger ones wait their
turn. A short request so waits for one decoded batch, not for a whole file.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.config import DecodeOptions

SMALL_LINES, SMALL_CHARACTERS = 16, 1000  # a job this small may overtake a large one between its batches


class QueueFull(Exception):
    pass


class Stopping(Exception):
    """The server stopped before this job's turn came."""


@dataclass
class Job:
    sentences: list[str]
    options: DecodeOptions
    glossary: object = None  # engine.text.glossary.Glossary or None
    attention: bool = False  # also compute each sentence's attention map (see `attention_maps`)
    memory: bool = True  # look the strings up in the translation memory first (where the server has one)
    notify: Callable[[], None] = lambda: None  # called from the worker thread when results are in
    results: list | None = None
    maps: list = field(default_factory=list)  # per sentence of `sentences`: its attention maps
    error: BaseException | None = None


def attention_maps(translator, translation) -> list[dict]:
    """The attention of one translated line, sentence by sentence, as JSON-ready dicts:
    {"source": source tokens, "target": output tokens and "</s>", "weights": rows × columns}.
    Sentences without attention (a model without it, a line passed through) are left out."""
    maps = []
    for part in translation.parts or [translation]:
        weights = translator.attention_of(part)
        if weights is None:
            continue
        rows, columns = weights.shape
        maps.append({
            "source": list(part.source_tokens[:columns]),
            "target": [*part.tokens, "</s>"][:rows],
            "weights": [[round(float(w), 3) for w in row] for row in weights],
        })
    return maps


class Batcher:
    """One worker thread owns the translator. `submit` queues a job (QueueFull when the queue is
    at its bound); the worker gathers the jobs that arrive within `window` seconds (up to
    `max_sentences`), decodes each group of equal settings in one call, and wakes the callers."""

    def __init__(self, translator, max_queue: int = 256, window: float = 0.005, max_sentences: int = 256, memory=None):
        self.translator, self.window, self.max_sentences = translator, window, max_sentences
        self.memory = memory  # engine.memory.store.MemoryView of this model's direction, or None
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.stopping = False
        self.deferred: collections.deque[Job | None] = collections.deque()  # taken from the queue during a large job
        self.thread = threading.Thread(target=self._work, name="batcher", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Job:
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull from None
        return job

    async def run(self, job: Job) -> Job:
        """Queue `job` and wait for it without holding a thread: the worker wakes this request
        through the event loop (a thread each would cap the requests in flight, and so the batch,
        at the pool's size). Raises QueueFull, or the error the translator raised."""
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        job.notify = lambda: loop.call_soon_threadsafe(_resolve, finished)
        self.submit(job)
        await finished
        if job.error is not None:
            raise job.error
        return job

    def close(self, timeout: float | None = None) -> bool:
        """Stop the worker once the job in hand is done (jobs still queued are refused); False
        when it is still busy after `timeout` seconds."""
        self.stopping = True
        self.jobs.put(None)
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _gather(self, first: Job) -> list[Job]:
        jobs, sentences = [first], len(first.sentences)
        deadline = time.monotonic() + self.window
        while sentences < self.max_sentences:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:  # closing: finish what was gathered, then stop
                self.jobs.put(None)
                break
            jobs.append(job)
            sentences += len(job.sentences)
        return jobs

    def _next(self) -> Job | None:
        return self.deferred.popleft() if self.deferred else self.jobs.get()

    def _work(self) -> None:
        while (first := self._next()) is not None:
            groups: dict[tuple, list[Job]] = collections.defaultdict(list)
            for job in self._gather(first):  # small jobs first, never in one call with a large one
                groups[(not _is_small(job), job.options, id(job.glossary), job.memory)].append(job)
            for key in sorted(groups, key=lambda key: key[0]):
                self._decode(groups[key])

    def _between_batches(self) -> None:
        """Small jobs that arrived while a large one decodes: decoded now (see the module's doc)."""
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and _is_small(job) and not self.stopping:
                self._decode([job], nested=True)
            else:
                self.deferred.append(job)

    def _decode(self, group: list[Job], nested: bool = False) -> None:
        try:
            if self.stopping:
                raise Stopping("the server is stopping")
            first = group[0]
            sentences = [s for job in group for s in job.sentences]
            large = not nested and not all(_is_small(job) for job in group)
            results = self.translator.translate(sentences, options=first.options, glossary=first.glossary,
                                                pause=self._between_batches if large else None,
                                                memory=self.memory if first.memory else None)
            start = 0
            for job in group:
                job.results = results[start : start + len(job.sentences)]
                start += len(job.sentences)
                if job.attention:
                    job.maps = [attention_maps(self.translator, result) for result in job.results]
        except Exception as err:  # reported per request (a 500, or 503 when stopping)
            for job in group:
                job.error = err
        for job in group:
            job.notify()


def _is_small(job: Job) -> bool:
    return len(job.sentences) <= SMALL_LINES and sum(len(s) for s in job.sentences) <= SMALL_CHARACTERS


def _resolve(future) -> None:
    if not future.done():  # (a client that went away cancels its request's future)
        future.set_result(None)
