"""The translation memory: translations a person gave (corrections, imports, glossary terms),
kept in one SQLite file and looked up before the model.

- One entry per (direction, key). The key is the source in the normal form every tool reads
  (engine.text.normalise), so "Hello  world" and "Hello world" are one entry.
- A newer entry for a key replaces the older one, which moves to the `superseded` table: nothing
  a person wrote is lost. Imports and merges follow the same rule, so an older incoming entry is
  kept in `superseded` instead.
- SQLite in WAL mode with a busy timeout: the chat, batch and the server (a process each) may
  write at once, and each write is one short transaction (`BEGIN IMMEDIATE`).
- A file that is damaged, or a database that is not a memory of ours, is refused with one line
  naming it, and is never written.
- Lookups never create the file: until the first correction there is nothing to find.

Plain Python (sqlite3, rapidfuzz); no TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs
from rapidfuzz import fuzz, process

from engine.text.normalise import normalise

FORMAT, VERSION = "seq2seq-memory", "1"
ORIGINS = ("correction", "import", "glossary")
FUZZY_THRESHOLD = 85.0  # rapidfuzz ratio (0–100) from which a similar entry is offered
EXACT_ONLY = 101.0  # a threshold no similar entry reaches: exact matches only
BUSY_SECONDS = 30.0  # how long a writer waits for another one's transaction

_COLUMNS = "direction, key, source, target, origin, model, time"
_SHOWN = "id, direction, source, target, origin, model, time"  # an entry as `_entry` reads it
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    direction TEXT NOT NULL,  -- en-zh, zh-en, …: the model's source and target languages
    key TEXT NOT NULL,        -- the source as the tools read it (normalised): what is looked up
    source TEXT NOT NULL,     -- the source as it was given
    target TEXT NOT NULL,
    origin TEXT NOT NULL,     -- {", ".join(ORIGINS)}
    model TEXT NOT NULL,      -- the model whose output was corrected ('' when none)
    time TEXT NOT NULL,       -- UTC, ISO 8601 to the second: newest wins
    UNIQUE (direction, key)
);
CREATE TABLE IF NOT EXISTS superseded (
    {", ".join(f"{c} TEXT NOT NULL" for c in _COLUMNS.split(", "))},
    UNIQUE ({_COLUMNS})
);
"""


class MemoryFileError(ValueError):
    """A memory file that cannot be used (damaged, not ours, unreadable): one line naming it."""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_path() -> Path:
    """$SEQ2SEQ_MEMORY, else memory.sqlite in the user's data directory."""
    override = os.environ.get("SEQ2SEQ_MEMORY")
    return Path(override) if override else Path(platformdirs.user_data_dir("seq2seq")) / "memory.sqlite"


@dataclass(frozen=True)
class Entry:
    direction: str
    source: str
    target: str
    origin: str = "correction"
    model: str = ""
    time: str = ""  # filled with now() when stored without one
    id: int | None = None

    @property
    def key(self) -> str:
        return normalise(self.source)

    def row(self) -> tuple:
        return (self.direction, self.key, self.source, self.target, self.origin, self.model, self.time)


@dataclass(frozen=True)
class Match:
    """A memory entry found for a line: exact (served instead of the model) or fuzzy (offered
    beside the model's translation, never substituted), with its similarity 0–100."""

    entry: Entry
    score: float

    @property
    def exact(self) -> bool:
        return self.score >= 100.0


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def cleaned(entry: Entry) -> Entry:
    """An entry as it is stored: each side on one line, with single spaces and no control
    characters (as TMX, which is XML, can carry and reads back)."""
    return replace(entry, source=" ".join(_CONTROL.sub("", entry.source).split()), target=" ".join(_CONTROL.sub("", entry.target).split()))


def _entry(row) -> Entry:
    identifier, direction, source, target, origin, model, time = row
    return Entry(direction, source, target, origin, model, time, identifier)


class TranslationMemory:
    """The memory in the SQLite file at `path` (default: `default_path()`)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.checked = False  # the whole file checked (PRAGMA quick_check) by this process
        with self._connect(write=False):
            pass  # checked now: a damaged file fails at start-up, not at the first correction

    # ------------------------------------------------------------------ the file
    def _fail(self, reason: str) -> MemoryFileError:
        return MemoryFileError(f"{self.path}: {reason}; it was left as it is (move it away, or choose another file with --memory)")

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection to the file (created for a write), checked to be a memory of ours; for a
        read, None where there is nothing to read (no file yet, or one never written). A write
        runs in one immediate transaction, committed on leaving, rolled back on an error."""
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            yield None
            return
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as err:
            raise self._fail(f"cannot open the translation memory ({err})") from None
        try:
            if write:  # the write lock first (waiting up to BUSY_SECONDS for another writer), then the checks
                connection.execute("BEGIN IMMEDIATE")
            written = self._check(connection, write)
            yield connection if written else None
            if write:
                connection.execute("COMMIT")
                _use_wal(connection)
        except BaseException as err:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(err, sqlite3.OperationalError) and ("locked" in str(err) or "busy" in str(err)):
                raise MemoryFileError(f"{self.path}: another program held the translation memory for {BUSY_SECONDS:g} s; nothing was written") from None
            if isinstance(err, sqlite3.DatabaseError):
                raise self._fail(f"not a usable translation memory ({err})") from None
            raise
        finally:
            connection.close()

    def _check(self, connection: sqlite3.Connection, write: bool) -> bool:
        """Refuse a damaged file, or a database of something else; set up a new one for a write.
        Returns whether the file holds a memory (False: created, never written)."""
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            if write:  # (inside the write transaction: two processes creating it at once make it once)
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    connection.execute(statement)
                connection.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("version", VERSION)])
            return write
        if "meta" not in tables or dict(connection.execute("SELECT name, value FROM meta")).get("format") != FORMAT:
            raise self._fail(f"a SQLite database of something else (tables: {', '.join(sorted(tables))}), not a translation memory")
        if not self.checked:  # (reads every page: once, not at every lookup)
            problem = connection.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise self._fail(f"damaged ({problem})")
            self.checked = True
        return True

    def _read(self, query: str, parameters=()) -> list:
        with self._connect(write=False) as connection:
            return connection.execute(query, parameters).fetchall() if connection is not None else []

    # ------------------------------------------------------------------ writing
    def add(self, entries: Iterable[Entry]) -> Counter:
        """Store entries (newest wins per key, the other kept in `superseded`) in one transaction:
        all of them, or (on an error, such as a bad line of the file they come from) none.
        An entry without a time (a TSV line, an undated TMX unit) is added where its key is
        new and never replaces one (a person's correction is not undone by importing the same
        file again). Returns how many were added, replaced an older one, were older than the
        one stored (kept as superseded), or were there already (unchanged)."""
        counts: Counter = Counter()
        with self._connect(write=True) as connection:
            for entry in entries:
                counts[_put(connection, entry)] += 1
        return counts

    def correct(self, direction: str, source: str, target: str, model: str = "", origin: str = "correction") -> Entry:
        """A person's translation of `source`: served exactly from now on."""
        if not source.strip() or not target.strip():
            raise ValueError("a correction needs a source line and its translation")
        entry = cleaned(Entry(direction, source, target, origin, model, now()))
        with self._connect(write=True) as connection:  # (a person's word wins even over a future-dated entry)
            _put(connection, entry, always=True)
        return entry

    def delete(self, identifiers: Iterable[int]) -> int:
        """Remove entries by id; returns how many there were."""
        ids = list(identifiers)
        if not ids or not self.path.exists():
            return 0
        with self._connect(write=True) as connection:
            return sum(connection.execute("DELETE FROM entries WHERE id = ?", (i,)).rowcount for i in ids)

    # ------------------------------------------------------------------ reading
    def entries(self, direction: str | None = None, containing: str | None = None, limit: int | None = None) -> list[Entry]:
        """Entries, newest first; optionally of one direction, or whose source or target holds a text."""
        where, parameters = [], []
        if direction:
            where.append("direction = ?")
            parameters.append(direction)
        if containing:
            where.append("(instr(source, ?) OR instr(target, ?))")
            parameters += [containing, containing]
        query = f"SELECT {_SHOWN} FROM entries"
        query += f" WHERE {' AND '.join(where)}" if where else ""
        query += " ORDER BY time DESC, id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [_entry(row) for row in self._read(query, parameters)]

    def superseded(self) -> list[Entry]:
        """Entries that a newer one replaced, oldest first."""
        rows = self._read(f"SELECT NULL, {_SHOWN.removeprefix('id, ')} FROM superseded ORDER BY time")
        return [_entry(row) for row in rows]

    def __len__(self) -> int:
        rows = self._read("SELECT count(*) FROM entries")
        return rows[0][0] if rows else 0

    def lookup(self, direction: str, lines: list[str], threshold: float = FUZZY_THRESHOLD) -> list[Match | None]:
        """For each line: the entry of its key (exact), else the most similar entry with a
        rapidfuzz ratio ≥ threshold (fuzzy), else None. Blank lines find nothing."""
        found: list[Match | None] = [None] * len(lines)
        keys = [normalise(line) for line in lines]
        wanted = [i for i, key in enumerate(keys) if key]
        if not wanted:
            return found
        with self._connect(write=False) as connection:
            if connection is None:
                return found
            select = f"SELECT {_SHOWN} FROM entries WHERE direction = ?"
            for i in wanted:
                row = connection.execute(f"{select} AND key = ?", (direction, keys[i])).fetchone()
                if row:
                    found[i] = Match(_entry(row), 100.0)
            missing = [i for i in wanted if found[i] is None]
            if missing and threshold <= 100:
                rows = connection.execute(f"SELECT key, {_SHOWN} FROM entries WHERE direction = ?", (direction,)).fetchall()
                stored = [row[0] for row in rows]
                for i in missing:
                    found[i] = _similar(stored, rows, keys[i], threshold)
        return found


def _use_wal(connection: sqlite3.Connection) -> None:
    """Write-ahead logging (readers never wait for a writer), set once on the file; where another
    connection is open at that moment it is tried again at the next write."""
    try:
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            connection.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError:
        pass


def _put(connection: sqlite3.Connection, entry: Entry, always: bool = False) -> str:
    """Store one entry by the newest-wins rule (`always`: it wins whatever the times; an entry
    without a time only fills a new key); returns what happened."""
    if entry.origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {entry.origin!r}")
    undated, entry = not entry.time, cleaned(entry if entry.time else replace(entry, time=now()))
    old = connection.execute(f"SELECT {_COLUMNS} FROM entries WHERE direction = ? AND key = ?", (entry.direction, entry.key)).fetchone()
    if old is None:
        connection.execute(f"INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", entry.row())
        return "added"
    if old[2:4] == entry.row()[2:4]:  # the same source and translation: the stored one stays
        return "unchanged"
    if undated:  # (still in the file it came from: nothing lost)
        return "kept the stored one"
    archive = "INSERT OR IGNORE INTO superseded VALUES (?, ?, ?, ?, ?, ?, ?)"
    if always or entry.time >= old[6]:
        connection.execute(archive, old)
        connection.execute(
            "UPDATE entries SET source = ?, target = ?, origin = ?, model = ?, time = ? WHERE direction = ? AND key = ?",
            (entry.source, entry.target, entry.origin, entry.model, entry.time, entry.direction, entry.key),
        )
        return "replaced"
    connection.execute(archive, entry.row())
    return "older"


def _similar(stored: list[str], rows: list, key: str, threshold: float) -> Match | None:
    """The most similar entry by rapidfuzz's ratio (2·matches / total length, 0–100), at least
    `threshold`; rapidfuzz skips in C++ the keys whose lengths alone rule them out."""
    best = process.extractOne(key, stored, scorer=fuzz.ratio, score_cutoff=threshold)
    if best is None:
        return None
    _, score, index = best
    return Match(_entry(rows[index][1:]), min(round(score, 1), 99.9))


@dataclass(frozen=True)
class MemoryView:
    """A memory as one model sees it: the entries of its direction, and where its corrections go."""

    memory: TranslationMemory
    direction: str
    model: str = ""  # the model whose output is corrected
    threshold: float = FUZZY_THRESHOLD  # above 100: exact matches only (where nothing would show a fuzzy one)

    def lookup(self, lines: list[str]) -> list[Match | None]:
        return self.memory.lookup(self.direction, lines, self.threshold)

    def correct(self, source: str, target: str) -> Entry:
        return self.memory.correct(self.direction, source, target, self.model)
