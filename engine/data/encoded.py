"""The encoded splits of a run, kept in its folder (`data/`): each split's source and target token
ids as a flat int32 array with their lengths (`.npy`, read memory-mapped). Written once, when the
run's data is prepared; a resume, and a run started with `seq2seq-train --prepare-only`, read them
instead of reading, normalising, protecting and encoding the corpus again (minutes for millions
of pairs). Written into a temporary folder that is then renamed: a `data/` folder is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from engine.data.spool import PREPARED, SAVING, remove_stale, scratch_folder
from engine.training.batches import Encoded

FOLDER = "data"
SPLITS = ("train", "valid")
FORMAT = 1


class EncodedDataError(ValueError):
    """A `data/` folder that cannot be read; the message names the file."""


def _files(split: str, side: str) -> tuple[str, str]:
    return f"{split}-{side}-tokens.npy", f"{split}-{side}-lengths.npy"


def save_plans(run_path: Path, plan, valid_plan) -> None:
    """The encoded splits of a run's batch plans (engine/training/batches.py) as its data/."""
    save_encoded(run_path, {"train": plan.encoded, "valid": valid_plan.encoded if valid_plan is not None else None})


def save_encoded(run_path: Path, splits: dict[str, tuple[Encoded, Encoded] | None]) -> None:
    """Write `splits` ("train", "valid": (source, target) or None) as `run_path/data/`, in place
    of a `data/` already there (one a resume found damaged). A `.data-` folder left by a save that
    was killed is removed first (engine/data/spool.py, remove_stale)."""
    remove_stale(run_path)
    scratch = scratch_folder(SAVING, run_path)
    try:
        kept = {}
        for split, sides in splits.items():
            if sides is None:
                continue
            for side, encoded in zip(("source", "target"), sides):
                for name, array in zip(_files(split, side), (encoded.flat, encoded.lengths)):
                    written = getattr(array, "filename", None)  # (an EncodedWriter's file: moved, not copied)
                    if written is not None and Path(written).name == name and Path(written).parent.name.startswith(PREPARED):
                        shutil.move(written, scratch / name)
                        with contextlib.suppress(OSError):  # (its folder goes with its last file)
                            Path(written).parent.rmdir()
                    else:
                        np.save(scratch / name, array)
            kept[split] = len(sides[0])
        (scratch / "index.json").write_text(json.dumps({"format": FORMAT, "pairs": kept}) + "\n", encoding="utf-8")
        for path in scratch.iterdir():  # (on disk before the folder is renamed into place)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        old = run_path / FOLDER
        if old.is_dir() and not old.is_symlink():  # (a folder is not replaced by a rename: moved aside first)
            old = old.rename(scratch.with_name(scratch.name + "-old"))
        os.replace(scratch, run_path / FOLDER)
        if old != run_path / FOLDER:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


class EncodedWriter:
    """One split's encoded pairs written into `folder` a chunk at a time, as `save_encoded` lays
    them out (`.npy` files, their headers written last): how millions of pairs are encoded without
    holding their ids. `close()` returns the split as memory-mapped Encoded (source, target)."""

    def __init__(self, folder: Path, split: str):
        self.folder, self.split = Path(folder), split
        self.files = {}
        for side in ("source", "target"):
            for name, dtype in zip(_files(split, side), (np.int32, np.int64)):
                handle = open(self.folder / name, "wb")
                np.lib.format.write_array_header_1_0(handle, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (0,)})
                self.files[name] = [handle, dtype, 0, handle.tell()]

    def write(self, source: Encoded, target: Encoded) -> None:
        for side, encoded in (("source", source), ("target", target)):
            for name, array in zip(_files(self.split, side), (encoded.flat, encoded.lengths)):
                entry = self.files[name]
                entry[0].write(np.ascontiguousarray(array, entry[1]).tobytes())
                entry[2] += len(array)

    def close(self) -> tuple[Encoded, Encoded]:
        for handle, dtype, count, data_start in self.files.values():
            handle.seek(0)  # the header again, with the real length (numpy leaves room for any length)
            np.lib.format.write_array_header_1_0(handle, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (count,)})
            if handle.tell() != data_start:
                raise AssertionError("the .npy header changed size")
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        sides = []
        for side in ("source", "target"):
            tokens, lengths = (_array(self.folder / name) for name in _files(self.split, side))
            sides.append(Encoded(tokens, lengths))
        return sides[0], sides[1]


def _array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise EncodedDataError(f"{path}: cannot be read ({err})") from None


def load_encoded(run_path: Path) -> dict[str, tuple[Encoded, Encoded] | None] | None:
    """The splits `save_encoded` wrote (memory-mapped), None when the run has no `data/` (runs
    older than it); a damaged folder is an EncodedDataError naming the file."""
    folder = Path(run_path) / FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return None
    index_path = folder / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        pairs_of = dict(index["pairs"]) if index.get("format") == FORMAT else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise EncodedDataError(f"{index_path}: cannot be read ({type(err).__name__}: {err})") from None
    if pairs_of is None:
        raise EncodedDataError(f"{index_path}: format {index.get('format')!r}, expected {FORMAT}")
    splits = {split: None for split in SPLITS}
    for split, pairs in pairs_of.items():
        sides = []
        for side in ("source", "target"):
            tokens_path, lengths_path = (folder / name for name in _files(split, side))
            tokens, lengths = _array(tokens_path), _array(lengths_path)
            if tokens.dtype != np.int32 or len(lengths) != pairs or int(lengths.sum()) != len(tokens):
                raise EncodedDataError(f"{tokens_path}: does not match {lengths_path.name} or index.json")
            sides.append(Encoded(tokens, lengths))
        splits[split] = (sides[0], sides[1])
    return splits
