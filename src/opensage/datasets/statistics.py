"""Per-column statistics of a Parquet file, computed one column at a time (two at once
when two columns take little memory).

The numbers follow pandas' conventions (sample standard deviation, linear-interpolated
quantiles, missing values excluded) so that they can be checked against it, and they
later serve as the monitoring baseline.

Memory stays about one column's values (8 bytes a row), whatever the number of columns: a
numeric column is read row group by row group into one numpy array of its valid values,
whose moments are summed in place, and which is then sorted in place; distinct and top
values, the range, quantiles and histogram all come from that sorted array, in steps of
bounded size, and the order in which values first occur (which breaks ties between top
values) from reading the column again from the file, only as far as needed. Other columns
are read whole and counted by Arrow.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opensage.datasets.ingest import logical_type

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_VALUES = 10
_FIRST_SCAN, _MAX_SCAN = 1024, 64 * 1024  # values looked at per step by _first_seen
_RUN_STEP = 256 * 1024  # sorted values looked at per step when counting runs
# Values tied at the top values' cut-off are listed (for a quick look-up while finding
# which occur first) when there are at most this many; else each value read is looked
# up in the whole sorted column (those ties are then common, and soon found).
_LISTED_TIES = 64 * 1024
_SUM_LEAF = 64 * 1024  # values summed at once (see _pairwise_sum)
# Numeric columns are described this many at once if they fit together in this much
# memory (8 bytes a value); else one at a time.
STATISTICS_THREADS = 2
STATISTICS_MEMORY = 64 * 1024 * 1024

# A numeric column's chunks in order, from the first row on each call.
Chunks = Callable[[], Iterator[pa.Array]]


def compute_statistics(source: IO[bytes] | str, *, filesystem: Any = None) -> list[dict[str, Any]]:
    """Statistics of every column of the Parquet file at ``source``.

    Columns are described one at a time, or, when ``STATISTICS_THREADS`` numeric columns
    fit together in ``STATISTICS_MEMORY``, that many at once (on other threads, reading
    the file in turn). Arrow's unused memory goes back to the system after each.
    """
    parquet = pq.ParquetFile(source, filesystem=filesystem)
    rows = parquet.metadata.num_rows
    reading = threading.Lock()  # one read of the file at a time

    def describe(field: pa.Field) -> dict[str, Any]:
        try:
            if _is_machine_number(field.type):
                chunks = functools.partial(_row_groups, parquet, field.name, reading)
                return _describe_numbers(field.name, field.type, rows, chunks)
            with reading:
                column = parquet.read(columns=[field.name]).column(0)
            return column_statistics(field.name, column)
        finally:
            pa.default_memory_pool().release_unused()

    fields = list(parquet.schema_arrow)
    at_once = min(STATISTICS_THREADS, STATISTICS_MEMORY // max(8 * rows, 1), len(fields))
    if at_once <= 1:
        return [describe(field) for field in fields]
    with ThreadPoolExecutor(at_once, thread_name_prefix="opensage-stats") as pool:
        return list(pool.map(describe, fields))


def table_statistics(table: pa.Table) -> list[dict[str, Any]]:
    """Statistics of every column of an in-memory table: the same numbers as
    ``compute_statistics`` of the table written as Parquet, without reading it back.

    ``STATISTICS_THREADS`` columns at once (each takes a sorted copy of its values).
    """

    def describe(name: str) -> dict[str, Any]:
        return column_statistics(name, table.column(name))

    if STATISTICS_THREADS <= 1 or table.num_columns <= 1:
        return [describe(name) for name in table.column_names]
    with ThreadPoolExecutor(STATISTICS_THREADS, thread_name_prefix="opensage-stats") as pool:
        return list(pool.map(describe, table.column_names))


def _row_groups(parquet: pq.ParquetFile, name: str, reading: threading.Lock) -> Iterator[pa.Array]:
    """Column ``name`` of ``parquet``, read one row group at a time."""
    for index in range(parquet.num_row_groups):
        with reading:
            group = parquet.read_row_group(index, columns=[name])
        yield from group.column(0).chunks


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
    if _is_machine_number(column.type):
        return _describe_numbers(name, column.type, len(column), lambda: iter(column.chunks), kind)
    total = len(column)
    missing = column.null_count
    stats: dict[str, Any] = {
        "name": name,
        "type": kind,
        "count": total - missing,
        "missing": missing,
    }
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


# -- numeric columns ----------------------------------------------------------------------


def _describe_numbers(
    name: str, arrow_type: pa.DataType, rows: int, chunks: Chunks, kind: str | None = None
) -> dict[str, Any]:
    """The statistics of a column of integers or floats of ``rows`` rows, from its
    ``chunks``.

    The valid values (neither null nor NaN) are copied, in order, into one array, on
    which the moments are computed as numpy computes them (so to the same bits); the array
    is then sorted in place, and the rest is derived from it with small temporaries.
    """
    values = np.empty(rows, dtype=np.dtype(arrow_type.to_pandas_dtype()))
    count = 0
    for chunk in chunks():
        valid = _valid_values(chunk)
        values[count : count + valid.size] = valid
        count += valid.size
    values = values[:count]
    stats: dict[str, Any] = {
        "name": name,
        "type": kind or logical_type(arrow_type),
        "count": count,
        "missing": rows - count,
    }
    floats = values.dtype.kind == "f"
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf and the like: NaN → null
        mean, std = _moments(values) if count else (math.nan, None)
    values.sort()  # in place: from here on, ``values`` is sorted
    ordered = values
    distinct, top = _distinct_and_top(ordered, chunks)
    stats["distinct"], stats["top_values"] = distinct, top
    finite = _finite_part(ordered) if floats else ordered
    if floats:
        stats["infinite"] = int(ordered.size - finite.size)
    if count == 0:
        return stats
    first, last = float(ordered[0]), float(ordered[-1])
    if first == last and math.isfinite(first):
        # All equal: exactly, rather than off by the rounding of the sum (pandas gets
        # that rounding or not depending on where the missing values are).
        mean, std = first, (0.0 if count > 1 else None)
    with np.errstate(invalid="ignore", over="ignore"):
        quantiles = _quantiles(ordered)
    histogram = None
    if finite.size:
        counts, edges = _histogram(finite)
        histogram = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    stats.update(
        {
            "mean": _finite(mean),
            "std": _finite(std),
            "min": _finite(first),
            "max": _finite(last),
            "quantiles": {
                str(q): _finite(float(v)) for q, v in zip(QUANTILES, quantiles, strict=True)
            },
            "histogram": histogram,
        }
    )
    return stats


def _valid_values(chunk: pa.Array) -> np.ndarray:
    """The values of ``chunk`` that are neither null nor NaN, in order, as numpy (a view
    of Arrow's memory where possible)."""
    if chunk.null_count:
        chunk = chunk.drop_null()
    values = _numpy(chunk)
    if values.dtype.kind == "f":
        keep = ~np.isnan(values)
        if not keep.all():
            values = values[keep]
    return values


def _numpy(array: pa.Array) -> np.ndarray:
    """The values of an array of integers or floats without nulls, as a numpy view of its
    memory. (pyarrow's ``to_numpy`` would import pandas, some 40 MiB, on first use.)"""
    dtype = np.dtype(array.type.to_pandas_dtype())
    if len(array) == 0:
        return np.empty(0, dtype=dtype)
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def _moments(values: np.ndarray) -> tuple[float, float | None]:
    """Mean and sample standard deviation, in float64, to the bit as ``np.mean`` and
    ``np.std(ddof=1)`` of ``values.astype(np.float64)`` (what pandas computes, up to the
    order of summation), without a float64 copy of the whole column."""
    size = values.size
    mean = _pairwise_sum(values, lambda part: part.astype(np.float64, copy=False)) / size
    if size < 2:
        return float(mean), None

    def squared_deviations(part: np.ndarray) -> np.ndarray:
        deviations: np.ndarray = np.subtract(part, mean, dtype=np.float64)
        np.multiply(deviations, deviations, out=deviations)
        return deviations

    return float(mean), float(np.sqrt(_pairwise_sum(values, squared_deviations) / (size - 1)))


def _pairwise_sum(values: np.ndarray, leaf: Callable[[np.ndarray], np.ndarray]) -> np.float64:
    """The float64 sum of ``leaf`` of each part of ``values``, added up in the order of
    numpy's pairwise summation (which halves a contiguous array, at a multiple of 8, down
    to blocks of 128 values), so the same to the bit as ``np.sum`` of ``leaf(values)``,
    with only ``_SUM_LEAF`` values of ``leaf`` in memory at once."""
    size = values.size
    if size <= _SUM_LEAF:
        return np.float64(np.add.reduce(leaf(values)))
    half = size // 2
    half -= half % 8
    return _pairwise_sum(values[:half], leaf) + _pairwise_sum(values[half:], leaf)


def _finite_part(ordered: np.ndarray) -> np.ndarray:
    """The finite values of sorted floats without NaN (-inf sorts first, +inf last)."""
    infinity = ordered.dtype.type(np.inf)
    start = int(np.searchsorted(ordered, -infinity, side="right"))
    stop = int(np.searchsorted(ordered, infinity, side="left"))
    return ordered[start:stop]


def _quantiles(ordered: np.ndarray) -> np.ndarray:
    """The ``QUANTILES`` of sorted values, exactly as pandas' ``Series.quantile`` computes
    them: ``np.percentile(values.astype(np.float64), 100 * q)``, linear interpolation.

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
    below = ordered[previous.astype(np.intp)].astype(np.float64)
    above = ordered[following.astype(np.intp)].astype(np.float64)
    gamma = virtual - previous
    difference = above - below
    result: np.ndarray = below + difference * gamma
    upper = gamma >= 0.5
    result[upper] = (above - difference * (1 - gamma))[upper]
    return result


def _histogram(finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(finite.astype(np.float64), HISTOGRAM_BINS)`` of sorted finite
    values, by binary search: bin i holds the values from edge i up to but excluding edge
    i + 1 (the last bin: including).

    numpy derives the edges from the least and the greatest value alone. Where it cannot
    make that many bins (values so large that their whole range is only a few steps of
    float64 apart, or a range wider than float64 holds), it is one bin from the least
    value to the greatest.
    """
    bounds = np.array([finite[0], finite[-1]], dtype=np.float64)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            edges = np.histogram_bin_edges(bounds, bins=HISTOGRAM_BINS)
        usable = bool(np.all(np.isfinite(edges)) and np.all(edges[1:] > edges[:-1]))
    except ValueError:  # "Too many bins for data range"
        usable = False
    if not usable:
        edges = bounds
    starts = _count_below(finite, edges[:-1])
    return np.diff(starts, append=finite.size), edges


def _count_below(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """For each edge, how many of the sorted ``ordered`` are below it as float64.

    ``np.searchsorted`` would convert the whole of ``ordered`` to float64 first unless it
    is float64 already; a binary search on all edges at once looks at a few values only.
    """
    if ordered.dtype == np.float64:
        return np.searchsorted(ordered, edges, side="left")
    low = np.zeros(edges.size, dtype=np.intp)
    high = np.full(edges.size, ordered.size, dtype=np.intp)
    while np.any(low < high):
        middle = (low + high) // 2
        active = low < high
        below = ordered[np.minimum(middle, ordered.size - 1)].astype(np.float64) < edges
        low = np.where(active & below, middle + 1, low)
        high = np.where(active & ~below, middle, high)
    return low


def _distinct_and_top(ordered: np.ndarray, chunks: Chunks) -> tuple[int, list[dict[str, Any]]]:
    """How many distinct values the sorted ``ordered`` holds, and the most frequent, in
    the order of ``value_counts().head(TOP_VALUES)`` in pandas: by count, ties (and the
    cut-off among them) in order of first occurrence in ``chunks``.

    Equal values compare equal, so 0.0 and -0.0 are one value (0.0), as in pandas.
    """
    distinct, tally, best, best_counts = _count_runs(ordered)
    k = min(TOP_VALUES, distinct)
    if k == 0:
        return distinct, []
    above = 0  # how many values occur more often than the k-th most frequent
    for threshold in sorted(tally, reverse=True):
        if above + tally[threshold] >= k:
            break
        above += tally[threshold]
    room = k - above
    if tally[threshold] <= room:  # every value at the cut-off makes it: all are in best
        keep, tied_room = best_counts >= threshold, 0
    else:  # the first ``room`` of those to occur make it
        keep, tied_room = best_counts > threshold, room
    known, known_counts = best[keep], best_counts[keep]
    order = np.argsort(known)
    listed = None
    if tied_room and tally[threshold] <= _LISTED_TIES:
        listed = _tied_values(ordered, threshold, tally[threshold], best_counts[keep], distinct)
    ties = _Ties(ordered, threshold, listed)
    found = _first_seen(chunks, known[order], known_counts[order], ties, tied_room)
    ranked = sorted(found.items(), key=lambda item: -item[1])  # stable: ties as first seen
    return distinct, [{"value": _jsonable(v), "count": int(c)} for v, c in ranked]


def _count_runs(ordered: np.ndarray) -> tuple[int, Counter[int], np.ndarray, np.ndarray]:
    """Over the sorted ``ordered``, in steps of about ``_RUN_STEP`` values that never
    split a run of equal values: how many distinct values there are, how many values occur
    each number of times, and ``TOP_VALUES`` of the most frequent values with their counts
    (any of those tied at the cut-off)."""
    distinct = 0
    tally: Counter[int] = Counter()
    best, best_counts = ordered[:0], np.zeros(0, dtype=np.int64)
    start = 0
    while start < ordered.size:
        stop = min(start + _RUN_STEP, ordered.size)
        stop = int(np.searchsorted(ordered, ordered[stop - 1], side="right"))
        values, counts = _runs(ordered[start:stop])
        start = stop
        distinct += values.size
        tally.update(_tally(counts))
        if best.size == TOP_VALUES:  # only a value more frequent than one of best matters
            better = counts > best_counts.min()
            values, counts = values[better], counts[better]
        if counts.size:
            best, best_counts = _most_common(
                np.concatenate((best, values)), np.concatenate((best_counts, counts))
            )
    return distinct, tally, best, best_counts


def _tally(counts: np.ndarray) -> dict[int, int]:
    """How many of ``counts`` are 1, 2, 3 ... (those that are)."""
    largest = int(counts.max())
    if largest <= 4 * counts.size:
        how_many = np.bincount(counts)
        lengths = np.flatnonzero(how_many)
        how_many = how_many[lengths]
    else:  # a few long runs
        lengths, how_many = np.unique(counts, return_counts=True)
    return dict(zip(lengths.tolist(), how_many.tolist(), strict=True))


def _most_common(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``TOP_VALUES`` of ``values`` with the greatest ``counts`` (the first of those
    tied at the cut-off)."""
    if counts.size <= TOP_VALUES:
        return values, counts
    above, tied, room = _cut_off(counts)
    chosen = np.concatenate((above, tied[:room]))
    return values[chosen], counts[chosen]


class _Ties:
    """Which values of the sorted ``ordered`` occur ``threshold`` times: looked up in
    ``listed`` (those values, sorted) if given, else found by binary search in
    ``ordered``."""

    def __init__(self, ordered: np.ndarray, threshold: int, listed: np.ndarray | None) -> None:
        self._ordered, self.threshold, self._listed = ordered, threshold, listed

    def among(self, part: np.ndarray) -> np.ndarray:
        """Whether each value of ``part`` occurs ``threshold`` times."""
        if self._listed is not None:
            if not self._listed.size:
                return np.zeros(part.size, dtype=bool)
            positions = np.minimum(np.searchsorted(self._listed, part), self._listed.size - 1)
            return np.asarray(self._listed[positions] == part)
        occurrences = np.searchsorted(self._ordered, part, "right")
        occurrences -= np.searchsorted(self._ordered, part, "left")
        return np.asarray(occurrences == self.threshold)


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs (-0.0 as 0.0)."""
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    starts_run = np.empty(ordered.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    starts = np.flatnonzero(starts_run)
    del starts_run
    counts = np.diff(starts, append=ordered.size)
    values = ordered[starts]
    if values.dtype.kind == "f":
        values += 0.0  # -0.0 → 0.0 (a copy already)
    return values, counts


def _tied_values(
    ordered: np.ndarray, threshold: int, how_many: int, above: np.ndarray, distinct: int
) -> np.ndarray:
    """The ``how_many`` values of the sorted ``ordered`` that occur ``threshold`` times,
    sorted; ``above``: the counts of the values that occur more often, ``distinct``: how
    many distinct values there are."""
    span = threshold - 1
    if span and how_many + int((above - span).sum()) < distinct:
        # A value occurring ``threshold`` times or more equals the one ``span`` places on:
        # fewer places to look at than there are runs.
        values = ordered[np.flatnonzero(ordered[span:] == ordered[:-span])]
        if values.size:  # each value once
            values = values[np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))]
        counts = np.searchsorted(ordered, values, "right") - np.searchsorted(ordered, values)
        return np.asarray(values[counts == threshold])
    listed = []
    start = 0
    while start < ordered.size:  # in steps that never split a run
        stop = min(start + _RUN_STEP, ordered.size)
        stop = int(np.searchsorted(ordered, ordered[stop - 1], side="right"))
        values, counts = _runs(ordered[start:stop])
        listed.append(values[counts == threshold])
        start = stop
    return np.concatenate(listed)


def _first_seen(
    chunks: Chunks, known: np.ndarray, known_counts: np.ndarray, ties: _Ties, tied_room: int
) -> dict[Any, int]:
    """The sorted ``known`` values and the first ``tied_room`` values to occur of the
    ``ties``, with their counts, in order of first occurrence in ``chunks``; reads only
    as far as it must."""
    found: dict[Any, int] = {}
    wanted = known.size + tied_room
    tied = 0
    size = _FIRST_SCAN
    for chunk in chunks():
        valid = _valid_values(chunk)
        start = 0
        while start < valid.size:
            part = valid[start : start + size]
            start, size = start + size, min(2 * size, _MAX_SCAN)
            hits = np.zeros(part.size, dtype=bool)
            positions = np.zeros(part.size, dtype=np.intp)
            if known.size:
                positions = np.minimum(np.searchsorted(known, part), known.size - 1)
                hits = known[positions] == part
            if tied < tied_room:
                hits |= ties.among(part)
            where = np.flatnonzero(hits)
            _, first = np.unique(part[where], return_index=True)
            for index in np.sort(where[first]):
                value = part[index]
                key = (value + 0.0 if part.dtype.kind == "f" else value).item()  # -0.0 → 0.0
                if key in found:
                    continue
                if known.size and known[positions[index]] == value:
                    found[key] = int(known_counts[positions[index]])
                elif tied < tied_room:
                    found[key], tied = ties.threshold, tied + 1
                else:
                    continue
                if len(found) == wanted:
                    return found
    return found  # pragma: no cover - every value wanted occurs


def _top_values(counted: pa.StructArray) -> list[dict[str, Any]]:
    """The most frequent values of a ``value_counts`` result (which lists values in the
    order they first occur), in pandas' order."""
    values = counted.field("values")
    counts = _numpy(counted.field("counts"))
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
