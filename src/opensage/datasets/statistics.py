"""Per-column statistics of a Parquet file, computed column by column.

Only a couple of columns are in memory at once, so a dataset wider than memory allows is
fine as long as each column fits. The numbers follow pandas' conventions (sample standard
deviation, linear-interpolated quantiles, missing values excluded) so that they can be
checked against it, and they later serve as the monitoring baseline.
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opensage.datasets.ingest import logical_type

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_VALUES = 10
STATISTICS_THREADS = 2  # columns described at once (each sorts one column's values)
_FIRST_SCAN, _MAX_SCAN = 1024, 64 * 1024  # values looked at per step by _first_seen


def compute_statistics(source: IO[bytes] | str, *, filesystem: Any = None) -> list[dict[str, Any]]:
    """Statistics of every column of the Parquet file at ``source``.

    Columns are read one after the other on this thread and described on
    ``STATISTICS_THREADS`` others, so at most that many columns are in memory at once.
    """
    parquet = pq.ParquetFile(source, filesystem=filesystem)
    described: list[dict[str, Any]] = []
    with ThreadPoolExecutor(STATISTICS_THREADS, thread_name_prefix="opensage-stats") as pool:
        pending: deque[Future[dict[str, Any]]] = deque()
        for field in parquet.schema_arrow:
            if len(pending) == STATISTICS_THREADS:
                described.append(pending.popleft().result())
            column = parquet.read(columns=[field.name]).column(0)
            pending.append(pool.submit(column_statistics, field.name, column))
            del column
        described.extend(future.result() for future in pending)
    return described


def column_statistics(name: str, column: pa.ChunkedArray) -> dict[str, Any]:
    """count, missing, distinct and top values for any column; moments, quantiles and a
    histogram for numeric ones; the range for temporal ones.

    NaN counts as missing; +inf and -inf count as values (as in pandas), and ``infinite``
    says how many there are. A moment, quantile or bound that comes out infinite or NaN
    (as pandas would compute it) is null, and the histogram covers the finite values.
    """
    kind = logical_type(column.type)
    if pa.types.is_decimal(column.type):
        column = _as_floats(column)
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    total = len(column)
    missing = column.null_count
    stats: dict[str, Any] = {
        "name": name,
        "type": kind,
        "count": total - missing,
        "missing": missing,
    }
    if _is_machine_number(column.type):
        # Sorting once gives distinct values, top values, the range and cheap quantiles;
        # much faster than hashing when most values differ (as in most float columns).
        valid = column.drop_null().to_numpy()
        ordered = np.sort(valid)
        values, counts = _runs(ordered)
        stats["distinct"] = len(values)
        stats["top_values"] = _top_of_runs(valid, values, counts)
        if ordered.dtype.kind == "f":
            stats["infinite"] = int(ordered.size - _finite_part(ordered).size)
        if stats["count"] > 0:
            stats.update(_numeric(valid, ordered))
        return stats
    try:
        counted = pc.value_counts(column.drop_null())
    except pa.ArrowNotImplementedError:  # lists, structs, maps ...
        stats["distinct"], stats["top_values"] = _count_as_json(column)
    else:
        stats["distinct"] = len(counted)
        stats["top_values"] = _top_values(counted)
    if kind in ("timestamp", "date") and stats["count"] > 0:
        bounds = pc.min_max(column)
        stats["min"] = bounds["min"].as_py().isoformat()
        stats["max"] = bounds["max"].as_py().isoformat()
    return stats


def _is_machine_number(arrow_type: pa.DataType) -> bool:
    """Integers and floats, which numpy sorts natively (not decimals)."""
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))


def _as_floats(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A decimal column as float64, described like any float column (as is, if it cannot
    be converted)."""
    try:
        return column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # pragma: no cover - defensive
        return column


def _numeric(valid: np.ndarray, ordered: np.ndarray) -> dict[str, Any]:
    """Moments, range, quantiles and histogram of the valid values (``ordered``: sorted)."""
    values = valid.astype(np.float64, copy=False)
    ordered_floats = ordered.astype(np.float64, copy=False)  # int → float keeps the order
    first, last = float(ordered_floats[0]), float(ordered_floats[-1])
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and the like: NaN → null
        if first == last and math.isfinite(first):
            # All equal: exactly, rather than off by the rounding of the sum (pandas gets
            # that rounding or not depending on where the missing values are).
            mean, std = first, (0.0 if values.size > 1 else None)
        else:
            mean = float(np.mean(values))
            std = float(np.std(values, ddof=1)) if values.size > 1 else None
        quantiles = _quantiles(ordered_floats)
    finite = _finite_part(ordered_floats)
    histogram = None
    if finite.size:
        counts, edges = _histogram(finite)
        histogram = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    return {
        "mean": _finite(mean),
        "std": _finite(std),
        "min": _finite(first),
        "max": _finite(last),
        "quantiles": {str(q): _finite(float(v)) for q, v in zip(QUANTILES, quantiles, strict=True)},
        "histogram": histogram,
    }


def _finite_part(ordered: np.ndarray) -> np.ndarray:
    """The finite values of sorted floats without NaN (-inf sorts first, +inf last)."""
    start = int(np.searchsorted(ordered, -np.inf, side="right"))
    stop = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[start:stop]


def _quantiles(ordered: np.ndarray) -> np.ndarray:
    """The ``QUANTILES`` of sorted float64 values, exactly as pandas' ``Series.quantile``
    computes them: ``np.percentile(values, 100 * q)``, linear interpolation.

    Done here on the values already sorted rather than by numpy, which would partition a
    copy; the arithmetic is numpy's, step by step, so the results are the same to the bit,
    infinite or NaN ones included (interpolating next to an infinite value gives NaN).
    """
    n = ordered.size
    q = np.asarray(QUANTILES, dtype=np.float64) * 100.0 / 100  # pandas passes percents
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    at_end = virtual >= n - 1  # numpy then takes the last value on both sides
    previous[at_end] = -1
    following[at_end] = -1
    below, above = ordered[previous.astype(np.intp)], ordered[following.astype(np.intp)]
    gamma = virtual - previous
    difference = above - below
    result: np.ndarray = below + difference * gamma
    upper = gamma >= 0.5
    result[upper] = (above - difference * (1 - gamma))[upper]
    return result


def _histogram(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(ordered, HISTOGRAM_BINS)`` of sorted finite values, by binary search:
    bin i holds the values from edge i up to but excluding edge i + 1 (the last bin:
    including).

    Where numpy cannot make that many bins (values so large that their whole range is
    only a few steps of float64 apart, or a range wider than float64 holds), it is one
    bin from the least value to the greatest.
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            edges = np.histogram_bin_edges(ordered, bins=HISTOGRAM_BINS)
        usable = bool(np.all(np.isfinite(edges)) and np.all(edges[1:] > edges[:-1]))
    except ValueError:  # "Too many bins for data range"
        usable = False
    if not usable:
        edges = np.array([ordered[0], ordered[-1]], dtype=np.float64)
    starts = np.searchsorted(ordered, edges[:-1], side="left")
    return np.diff(starts, append=ordered.size), edges


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs.

    Equal values compare equal, so 0.0 and -0.0 are one value, as in pandas.
    """
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    starts_run = np.empty(ordered.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    starts = np.flatnonzero(starts_run)
    counts = np.diff(starts, append=ordered.size)
    values = ordered[starts]
    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 → 0.0
    return values, counts


def _top_of_runs(valid: np.ndarray, values: np.ndarray, counts: np.ndarray) -> list[dict[str, Any]]:
    """The most frequent of the sorted distinct ``values`` of ``valid``, in the order of
    ``value_counts().head(TOP_VALUES)`` in pandas: by count, ties in order of first
    occurrence."""
    above, tied, room = _cut_off(counts)
    if tied.size > room:
        tied = tied[_first_seen(valid, values[tied], room)]
    chosen = np.sort(np.concatenate((above, tied)))
    chosen = chosen[_first_seen(valid, values[chosen], chosen.size)]  # as first seen
    chosen = chosen[np.argsort(-counts[chosen], kind="stable")]
    return [{"value": _jsonable(values[i].item()), "count": int(counts[i])} for i in chosen]


def _top_values(counted: pa.StructArray) -> list[dict[str, Any]]:
    """The most frequent values of a ``value_counts`` result (which lists values in the
    order they first occur), in pandas' order."""
    values = counted.field("values")
    counts = counted.field("counts").to_numpy()
    chosen = _most_frequent(counts)
    return [{"value": _jsonable(values[int(i)].as_py()), "count": int(counts[i])} for i in chosen]


def _count_as_json(column: pa.ChunkedArray) -> tuple[int, list[dict[str, Any]]]:
    """Distinct and top values of a column Arrow cannot count (lists, structs, ...): the
    values are counted as their JSON text, chunk by chunk."""
    counter: Counter[str] = Counter()
    for chunk in column.drop_null().chunks:
        counter.update(json.dumps(_jsonable(v), ensure_ascii=False) for v in chunk.to_pylist())
    texts = list(counter)  # in order of first occurrence
    counts = np.fromiter(counter.values(), dtype=np.int64, count=len(texts))
    top = [{"value": json.loads(texts[i]), "count": int(counts[i])} for i in _most_frequent(counts)]
    return len(texts), top


def _most_frequent(counts: np.ndarray) -> np.ndarray:
    """Indices of the ``TOP_VALUES`` greatest of ``counts`` (of values listed in order of
    first occurrence), as pandas' ``value_counts().head()`` orders them: by count, ties
    (and the cut-off among them) in order of first occurrence."""
    above, tied, room = _cut_off(counts)
    chosen = np.sort(np.concatenate((above, tied[:room])))
    return chosen[np.argsort(-counts[chosen], kind="stable")]


def _cut_off(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Where the ``TOP_VALUES`` most frequent values are: the indices of the counts above
    the cut-off, those at it, and how many of the latter fit (like pandas, the values seen
    first win a tie)."""
    k = min(TOP_VALUES, len(counts))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0
    tally = np.bincount(counts)  # how many values occur 0, 1, 2 ... times
    at_least = np.cumsum(tally[::-1])  # how many occur at least len(tally) - 1 - j times
    threshold = len(tally) - 1 - int(np.searchsorted(at_least, k))  # the k-th largest
    above = np.flatnonzero(counts > threshold)
    return above, np.flatnonzero(counts == threshold), k - above.size


def _first_seen(valid: np.ndarray, candidates: np.ndarray, needed: int) -> np.ndarray:
    """Positions in the sorted ``candidates`` of the first ``needed`` of them to occur in
    ``valid``, in order of first occurrence; scans only as far as it must."""
    found: list[int] = []
    if needed == 0:
        return np.zeros(0, dtype=np.int64)
    start, size = 0, _FIRST_SCAN
    while start < valid.size:
        chunk = valid[start : start + size]
        start, size = start + size, min(2 * size, _MAX_SCAN)
        positions = np.minimum(np.searchsorted(candidates, chunk), candidates.size - 1)
        hits = positions[candidates[positions] == chunk]
        unique, first = np.unique(hits, return_index=True)
        for position in unique[np.argsort(first)]:
            if position not in found:
                found.append(int(position))
                if len(found) == needed:
                    return np.array(found, dtype=np.int64)
    return np.array(found, dtype=np.int64)  # pragma: no cover - every candidate occurs


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: infinite floats as null, dates and times in ISO
    format, bytes as text, durations and other scalars as their text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
