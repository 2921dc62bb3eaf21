"""The encoded splits of a run, kept in its folder (`data/`): each split's source and target token
ids as a flat int32 array with their lengths (`.npy`, read memory-mapped). Written once, when the
run's data is prepared; a resume, and a run started with `seq2seq-train --prepare-only`, read them
instead of reading, normalising, protecting and encoding the corpus again (minutes for millions
of pairs). Written into a temporary folder that is then renamed: a `data/` folder is whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

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
    of a `data/` already there (one a resume found damaged)."""
    scratch = Path(tempfile.mkdtemp(prefix=".data-", dir=run_path))
    try:
        kept = {}
        for split, sides in splits.items():
            if sides is None:
                continue
            for side, encoded in zip(("source", "target"), sides):
                tokens, lengths = _files(split, side)
                np.save(scratch / tokens, encoded.flat)
                np.save(scratch / lengths, encoded.lengths)
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
