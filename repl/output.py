"""The files the tools write for a person (seq2seq-batch's OUTPUT, seq2seq-eval's --json).

- `-` is stdout; a character device, FIFO or socket is written directly (no temporary file can
  be renamed over a device, and nothing there can be half-written).
- A symbolic link is followed: the file it points to is the output, written atomically beside
  that file, so the link itself stays a link.
- A regular file is written to a temporary file beside it and renamed over it at the end:
  an interruption or an error leaves the old file (or none) and never half a file.
- A new file is claimed at once with an exclusive create, so a second run writing the same new
  OUTPUT is refused instead of silently replacing the first one's work. A replaced file keeps
  its permissions; a new one gets those the user's umask gives, as any other tool's output.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from engine.runs import AtomicFile
from repl.console import UsageError


class Output:
    def __init__(self, spec: str, force: bool = False, input_path: str | list | None = None):
        """Decide how to write `spec` and claim it when it is new; raises UsageError (before any
        work is done) for a folder, a missing folder, OUTPUT equal to an input (one path or a
        list), or an existing regular file without `force`."""
        self.spec, self.handle, self.atomic, self.claimed = spec, None, None, None
        if spec == "-":
            self.kind, self.target = "stdout", None
            return
        link = Path(spec)
        self.target = Path(os.path.realpath(link)) if link.is_symlink() else link
        info = _stat(self.target)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{spec}: is a directory")
        inputs = input_path if isinstance(input_path, list) else [input_path]
        for given in inputs:
            if given not in (None, "-") and info is not None and os.path.exists(given) and os.path.samefile(self.target, given):
                raise UsageError(f"{spec}: the output is the input {given}; writing it would lose that file")
        if info is not None and not stat.S_ISREG(info.st_mode):
            self.kind = "direct"  # a device, FIFO or socket
            return
        if info is not None:
            if not force:
                raise UsageError(f"{spec} exists; use --force to overwrite it")
            self.kind, self.mode = "replace", stat.S_IMODE(info.st_mode)
            return
        if not self.target.parent.is_dir():
            raise UsageError(f"{self.target.parent}: no such directory")
        self.kind = "new"
        self._claim()

    def _claim(self) -> None:
        try:
            fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        except FileExistsError:
            raise UsageError(f"{self.spec} exists (another run has just claimed it); use --force to overwrite it") from None
        info = os.fstat(fd)
        os.close(fd)
        self.claimed, self.mode = (info.st_dev, info.st_ino), stat.S_IMODE(info.st_mode)

    def open(self):
        """The text stream to write to."""
        if self.kind == "stdout":
            if sys.stdout is None:  # (started with standard output closed: `>&-`)
                raise UsageError("standard output is closed; name an output file with -o")
            self.handle = sys.stdout
        elif self.kind == "direct":
            self.handle = open(self.target, "w", encoding="utf-8", newline="\n")
        else:
            self.atomic = AtomicFile(self.target, suffix=".part")
            self.handle = self.atomic.handle
        return self.handle

    def commit(self) -> None:
        """Everything was written: put it in place."""
        if self.atomic is not None:
            self.atomic.handle.flush()
            os.chmod(self.atomic.tmp, self.mode)
            self.atomic.commit()
        elif self.handle is not None:
            self.handle.flush()
            if self.kind == "direct":
                self.handle.close()

    def discard(self) -> None:
        """Something failed: leave OUTPUT as it was (a file this run claimed is removed again)."""
        try:
            if self.atomic is not None:
                self.atomic.discard()
            elif self.kind == "direct" and self.handle is not None:
                self.handle.close()
        except OSError:
            pass  # (a device that fails on close: nothing of ours is left there to remove)
        finally:
            self._unclaim()

    def _unclaim(self) -> None:
        """Remove the empty file this run claimed, if it is still that file."""
        if self.claimed is not None:
            info = _stat(self.target)
            if info is not None and (info.st_dev, info.st_ino) == self.claimed and info.st_size == 0:
                self.target.unlink()

    def write_all(self, text: str) -> None:
        """The whole output at once (reports)."""
        try:
            self.open().write(text)
            self.commit()
        except BaseException:
            self.discard()
            raise


def _stat(path: Path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
