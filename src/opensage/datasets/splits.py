"""Reproducible train/validation/test splits, stratified by the label for classification.

A split is stored as one small ``int8`` column (the split index of each row) beside the
data, so the data file is written once and any split can be read back by filtering.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opensage.errors import InvalidInput

MAX_CLASSES_TO_STRATIFY = 100


def validate_fractions(fractions: dict[str, float]) -> dict[str, float]:
    """Check that split fractions are positive and add up to one."""
    if not fractions:
        raise InvalidInput("give at least one split", field="splits")
    if len(fractions) > 16:
        raise InvalidInput("at most 16 splits", field="splits")
    for name, fraction in fractions.items():
        if not name.isidentifier():
            raise InvalidInput(f"split name {name!r} must be an identifier", field="splits")
        if not 0 < fraction <= 1:
            raise InvalidInput(f"split {name!r}: fraction must be in (0, 1]", field="splits")
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise InvalidInput(f"split fractions add up to {total:g}, not 1", field="splits")
    return dict(fractions)


def looks_categorical(column_type: str, distinct: int, count: int) -> bool:
    """Whether a label column is a class label (stratify) rather than a regression target."""
    if column_type in ("string", "boolean"):
        return True
    if column_type == "integer":
        return distinct <= min(MAX_CLASSES_TO_STRATIFY, max(2, count // 10))
    return False


def assign_splits(
    num_rows: int,
    fractions: dict[str, float],
    seed: int,
    labels: pa.ChunkedArray | None = None,
) -> np.ndarray:
    """The split index (position in ``fractions``) of every row.

    The same inputs always give the same assignment. With ``labels``, every class is
    divided in the given fractions, so each split keeps the class balance.
    """
    rng = np.random.default_rng(seed)
    assignment = np.empty(num_rows, dtype=np.int8)
    shares = np.array(list(fractions.values()), dtype=np.float64)
    if labels is None:
        _fill(assignment, rng.permutation(num_rows), shares)
        return assignment
    codes = pc.dictionary_encode(labels.combine_chunks() if labels.num_chunks else labels)
    encoded = codes.indices.to_numpy(zero_copy_only=False)
    encoded = np.where(codes.indices.is_null().to_numpy(zero_copy_only=False), -1, encoded)
    dictionary = codes.dictionary.to_pylist()
    order = sorted(range(len(dictionary)), key=lambda i: str(dictionary[i]))
    for class_code in [-1, *order]:
        rows = np.flatnonzero(encoded == class_code)
        if rows.size:
            _fill(assignment, rng.permutation(rows), shares)
    return assignment


def split_counts(assignment: np.ndarray, fractions: dict[str, float]) -> dict[str, int]:
    """Rows per split."""
    counts = np.bincount(assignment, minlength=len(fractions))
    return {name: int(counts[i]) for i, name in enumerate(fractions)}


def write_assignment(assignment: np.ndarray, target: Any) -> None:
    """Store the assignment as a one-column Parquet file."""
    pq.write_table(pa.table({"split": pa.array(assignment, pa.int8())}), target)


def iter_split_batches(
    data: pq.ParquetFile, assignment: np.ndarray, split_index: int
) -> Iterator[pa.RecordBatch]:
    """Stream the rows of one split, row group by row group."""
    offset = 0
    for group in range(data.num_row_groups):
        table = data.read_row_group(group)
        mask = assignment[offset : offset + table.num_rows] == split_index
        offset += table.num_rows
        if mask.any():
            yield from table.filter(pa.array(mask)).to_batches()


def _fill(assignment: np.ndarray, rows: np.ndarray, shares: np.ndarray) -> None:
    """Give each split its share of ``rows`` (largest remainder, so counts add up)."""
    exact = shares * rows.size
    counts = np.floor(exact).astype(np.int64)
    remainder = rows.size - int(counts.sum())
    if remainder:
        counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for index in range(len(shares)):
        assignment[rows[bounds[index] : bounds[index + 1]]] = index
