"""Per-pair work of preparation on every core: a pool of processes over chunks of a list, for
corpora large enough to pay for starting it (a million pairs: normalising alone is half a minute
on one core). The work given must be pure (the same input, the same output, in any process), so
the result is the same, in the same order, as the one-process loop it replaces.

Processes, not threads: normalising and counting are Python code, which holds the GIL. The
workers are forked (Linux): a fork server or spawned workers would run the caller's main script
again in each worker (a user's script without `if __name__ == "__main__"` would prepare its
data again, recursively). A fork copies a process that may have TensorFlow's threads; the
workers only run plain Python on strings and never touch TensorFlow, so none of its locks is
ever needed in them. Elsewhere (no fork), the work runs in this process.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import sys
from functools import partial

POOL_FROM = 50_000  # items: below, one process finishes before a pool has started
CHUNK = 10_000  # items per task: large enough that sending them costs little beside the work


def available_cores() -> int:
    """The cores this process may run on (`taskset` may give it fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _pool_worker_signals() -> None:
    """A pool worker leaves Ctrl-C to this process, which ends it (no traceback from each), and
    dies at once on SIGTERM, as Pool.terminate expects: a handler the parent had installed (a
    tool's own, which a forked worker inherits) must not keep it alive or run its cleanup there.
    The worker is forked with SIGTERM blocked (`_forked_pool`): one sent before this ran waits,
    and takes effect here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _forked_pool(cores: int):
    """A pool of `cores` forked workers. SIGTERM is blocked while they are forked: a worker that
    got Pool.terminate's SIGTERM before `_pool_worker_signals` ran would otherwise run the
    inherited handler, live on, and the pool would wait for it for ever (a hang seen in the suite,
    where a pool of an empty list was ended at once)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        return multiprocessing.get_context("fork").Pool(cores, initializer=_pool_worker_signals)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _each(function, chunk: list) -> list:
    return [function(item) for item in chunk]


def each(function):
    """function over a chunk, item by item: what `streamed` sends for per-item work (a partial of
    module-level functions travels to the pool by name)."""
    return partial(_each, function)


def chunked(function, items: list, pool_from: int | None = None, done=lambda count: None) -> list:
    """[function(chunk) for chunk in items cut into chunks of CHUNK], in order: in this process
    for fewer than `pool_from` items, one chunk or one core, else on a pool of a process per core
    (see `streamed`). done(count): called after each chunk with the items finished so far."""
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    return list(streamed(function, iter(chunks), len(items) if len(chunks) > 1 else 0, done, pool_from))


def mapped(function, items: list, pool_from: int | None = None, done=lambda count: None) -> list:
    """[function(item) for item in items], in order, on every core for long lists (see chunked)."""
    return [result for part in chunked(each(function), items, pool_from, done) for result in part]


def streamed(function, chunks, size: int | None = None, done=lambda count: None, pool_from: int | None = None):
    """function(chunk) for each chunk of an iterator, yielded in order, on a pool of a process per
    core when the stream holds `size` ≥ `pool_from` (default POOL_FROM) items; else, or with one
    core or elsewhere than Linux, in this process. At most two chunks per core are read ahead, so
    a stream of millions of items is never held whole (Pool.imap reads its whole input at once).
    `function` must be a module-level function (or `each` of one). done(count): the items
    finished so far."""
    pool_from = POOL_FROM if pool_from is None else pool_from
    cores, finished = available_cores(), 0
    if size is None or size < pool_from or cores < 2 or not sys.platform.startswith("linux"):
        for chunk in chunks:
            yield function(chunk)
            finished += len(chunk)
            done(finished)
        return
    pool, answered = _forked_pool(cores), False
    try:
        for items, result in _in_order(pool, function, chunks, ahead=2 * cores):
            yield result.get()
            finished += items
            done(finished)
        answered = True
    finally:
        if answered:  # every task has answered: the workers leave when told, no signal needed
            pool.close()
        else:  # an error (or Ctrl-C, or a consumer that stopped reading) ends the pool with it
            pool.terminate()
        pool.join()


def _in_order(pool, function, chunks, ahead: int):
    """(items, pending result) of each chunk sent to the pool, in order, with at most `ahead`
    chunks sent and not yet given back (one that is ready is given back at once)."""
    pending = collections.deque()
    for chunk in chunks:
        pending.append((len(chunk), pool.apply_async(function, (chunk,))))
        while len(pending) > ahead or pending[0][1].ready():
            yield pending.popleft()
            if not pending:
                break
    yield from (pending.popleft() for _ in range(len(pending)))
