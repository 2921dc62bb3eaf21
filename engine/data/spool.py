"""Pairs on disk: how preparation holds millions of pairs without holding them in memory.

A spool is two files in a folder of its own: `texts.bin`, every pair's source and target as UTF-8,
one after the other, and `ends.bin`, for each pair the byte offsets (int64) where its source and
its target end. No separator is needed, so any text goes through unchanged (tabs, newlines). It is
written once, a chunk at a time (`write`), then read in order a chunk at a time (`chunks`) or
one pair anywhere (`spool[i]`, two positioned reads). The files are read with plain reads, not
mapped: what has been read is the system's page cache, not this process's memory, which stays
flat however large the corpus.

A spool deletes its folder when it is closed or collected; `temporary_spool` makes one in a
fresh temporary folder (under `dir` when given: the run's own disk). A preparation killed outright
(SIGKILL, a power cut) cannot delete its folders: each scratch folder's name carries its process's
id and its machine's name (`.pairs-<pid>@<host>-…`), and the next preparation in that place, on
that machine, removes those whose process is gone (`remove_stale`), never one a preparation still
running owns (nor another machine's, on a shared disk; nothing is removed where processes cannot be
asked, off POSIX).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from engine.data.files import Pair, chunks_of

CHUNK = 10_000  # pairs a chunk: a few MB of text


class PairSpool:
    """An append-once, read-many store of pairs in `folder` (see the module's doc)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._texts = open(self.folder / "texts.bin", "w+b")
        self._ends = open(self.folder / "ends.bin", "w+b")
        self._written = 0  # bytes of text so far
        self._count, self._dirty = 0, False
        self._finalizer = weakref.finalize(self, _remove, self._texts, self._ends, self.folder)

    def __len__(self) -> int:
        return self._count

    def write(self, pairs: Iterable[Pair]) -> None:
        """Append pairs (a chunk of them: they are encoded at once)."""
        encoded, ends = [], []
        for pair in pairs:
            for text in (pair.source, pair.target):
                data = text.encode("utf-8", "surrogatepass")
                encoded.append(data)
                self._written += len(data)
                ends.append(self._written)
        if not ends:
            return
        self._texts.seek(0, os.SEEK_END)
        self._texts.write(b"".join(encoded))
        self._ends.seek(0, os.SEEK_END)
        self._ends.write(np.asarray(ends, np.int64).tobytes())
        self._count += len(ends) // 2
        self._dirty = True

    def _ends_of(self, first: int, count: int) -> np.ndarray:
        """The 2·count text ends of pairs first … first+count-1, and the end before them."""
        before = 0 if first == 0 else int.from_bytes(os.pread(self._ends.fileno(), 8, (2 * first - 1) * 8), "little", signed=True)
        raw = os.pread(self._ends.fileno(), 16 * count, 16 * first)
        return np.concatenate([[before], np.frombuffer(raw, np.int64)])

    def _flush(self) -> None:
        if self._dirty:
            self._texts.flush()
            self._ends.flush()
            self._dirty = False

    def chunk(self, first: int, count: int) -> list[Pair]:
        """Pairs first … first+count-1 (fewer at the end)."""
        self._flush()
        count = max(0, min(count, self._count - first))
        if not count:
            return []
        ends = self._ends_of(first, count)
        data = os.pread(self._texts.fileno(), int(ends[-1] - ends[0]), int(ends[0]))
        bounds = (ends - ends[0]).tolist()
        texts = [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds[:-1], bounds[1:])]
        return [Pair(source, target) for source, target in zip(texts[0::2], texts[1::2])]

    def chunks(self, size: int = CHUNK) -> Iterator[list[Pair]]:
        """Every pair, in order, `size` at a time."""
        for first in range(0, self._count, size):
            yield self.chunk(first, size)

    def __iter__(self) -> Iterator[Pair]:
        for chunk in self.chunks():
            yield from chunk

    def __getitem__(self, index: int | slice) -> Pair | list[Pair]:
        if isinstance(index, slice):  # (a run of pairs, read at once)
            first, stop, step = index.indices(self._count)
            return self.chunk(first, stop - first)[::step] if stop > first else []
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        self._flush()
        if index:  # (the end before the pair's, then its two ends: one read)
            before, middle, end = struct.unpack("<3q", os.pread(self._ends.fileno(), 24, 16 * index - 8))
        else:
            before, (middle, end) = 0, struct.unpack("<2q", os.pread(self._ends.fileno(), 16, 0))
        data = os.pread(self._texts.fileno(), end - before, before)
        cut = middle - before
        return Pair(data[:cut].decode("utf-8", "surrogatepass"), data[cut:].decode("utf-8", "surrogatepass"))

    def close(self) -> None:
        """Close the files and delete the folder (the spool is not read again)."""
        self._finalizer()


def _remove(texts, ends, folder: Path) -> None:
    texts.close()
    ends.close()
    shutil.rmtree(folder, ignore_errors=True)


PREPARED = ".prepared-"  # the folder an EncodedWriter writes into before the run has its data/ (engine/data/encoded.py)
SAVING = ".data-"  # a run's data/ being written, inside the run folder, before it is renamed into place
SCRATCH_PREFIXES = (".pairs-", PREPARED, SAVING)  # (a spool's folder, or those)
_OWNED = re.compile(rf"(?:{'|'.join(map(re.escape, SCRATCH_PREFIXES))})(\d+)@(\w+)-")


def _host() -> str:
    return re.sub(r"\W", "_", socket.gethostname()) or "_"


def scratch_folder(prefix: str, dir: str | Path | None = None) -> Path:
    """A new empty folder `<prefix><pid>@<host>-<random>` under `dir` (the system's temporary folder
    by default): the name says which process on which machine owns it."""
    assert prefix in SCRATCH_PREFIXES
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}@{_host()}-", dir=dir))


def remove_stale(dir: str | Path) -> list[Path]:
    """Remove the scratch folders under `dir` whose owning process, on this machine, no longer runs
    (a preparation killed before it could clean up; gigabytes for millions of pairs). Returns
    those removed. (Off POSIX none: there os.kill does not ask, it ends the process.)"""
    if os.name != "posix" or not Path(dir).is_dir():
        return []
    removed, host = [], _host()
    for folder in Path(dir).iterdir():
        owner = _OWNED.match(folder.name)
        if owner and owner.group(2) == host and folder.is_dir() and not _running(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # (signal 0: only asks whether the process exists)
    except ProcessLookupError:
        return False
    except PermissionError:  # (another user's process: it exists)
        return True
    return True


def temporary_spool(dir: str | Path | None = None, pairs: Iterable[Pair] = ()) -> PairSpool:
    """A new spool in a fresh temporary folder (deleted with the spool), holding `pairs`."""
    spool = PairSpool(scratch_folder(".pairs-", dir))
    for chunk in chunks_of(pairs, CHUNK):
        spool.write(chunk)
    return spool


def pair_chunks(pairs, size: int = CHUNK) -> Iterator[list]:
    """A PairSpool's pairs or a list's items, `size` at a time."""
    if isinstance(pairs, PairSpool):
        yield from pairs.chunks(size)
    else:
        for first in range(0, len(pairs), size):
            yield pairs[first : first + size]
