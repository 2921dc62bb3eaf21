"""Batches of source token ids for decoding: sorted by length and padded, in the few shapes an
XLA graph is compiled for, or exactly for a dynamic graph."""

from __future__ import annotations

import math

import numpy as np

from engine.data.vocab import UNK

BATCH_SIZES = (1, 8, 32, 128, 256)  # the rows an XLA batch is padded to
LENGTH_STEP = 8  # and its width, in steps of this many tokens


def padded_batches(id_lists: list[list[int]], batch_size: int, bucketed: bool):
    """Sort by length, cut into batches, pad each to (B, S): bucketed for XLA graphs (a few
    compiled shapes: widths in steps of LENGTH_STEP, rows among BATCH_SIZES), exact for dynamic
    ones (any shape runs, so filler rows and columns would only be decoded for nothing).
    Yields (indices, array)."""
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    row_sizes = [b for b in BATCH_SIZES if b < batch_size] + [batch_size]  # (a chunk has at most batch_size rows)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width, rows = max(1, max(len(id_lists[i]) for i in chunk)), len(chunk)
        if bucketed:
            width = math.ceil(width / LENGTH_STEP) * LENGTH_STEP
            rows = next(b for b in row_sizes if b >= rows)
        array = np.zeros((rows, width), np.int32)
        array[len(chunk) :, 0] = UNK  # filler rows: one token, so nothing is fully masked
        for row, i in enumerate(chunk):
            array[row, : len(id_lists[i])] = id_lists[i]
        yield chunk, array
