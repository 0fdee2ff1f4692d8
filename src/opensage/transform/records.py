"""Reading one part of the input as batches of features, streaming, with pyarrow.

Memory stays bounded by a few read blocks and one batch, whatever the size of the file:
Parquet is read in record batches, CSV and JSON Lines through pyarrow's streaming readers
over the part's byte range, block by block. Bad records fail the part with an error naming the file,
the row and the column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from opensage.transform.layout import FeatureLayout
from opensage.transform.parts import Part

CSV_BLOCK_BYTES = 1 << 20
JSON_BLOCK_BYTES = 4 << 20
# What pyarrow's CSV reader takes as a missing value (it becomes NaN, as in training).
_CSV_NULLS = frozenset(pacsv.ConvertOptions().null_values)


class RecordError(Exception):
    """A record the model cannot take; the message names where it is."""


@dataclass
class Batch:
    """Up to ``batch_size`` consecutive records of a part."""

    offset: int
    """Position of the first record in its part."""
    features: np.ndarray
    table: pa.Table
    """The records as read (the input columns to join to the output)."""


def read_part(
    part: Part, layout: FeatureLayout, batch_size: int, *, keep_columns: bool
) -> Iterator[Batch]:
    """The part's records, ``batch_size`` at a time; ``keep_columns`` keeps every input
    column in ``Batch.table`` (for join_source=input), else only the features."""
    if part.kind == "parquet":
        tables = _parquet_tables(part, layout, batch_size, keep_columns)
    elif part.kind == "csv":
        tables = _csv_tables(part, layout)
    else:
        tables = _json_tables(part, layout, keep_columns)
    offset = 0
    for table in _rebatch(tables, batch_size):
        yield Batch(offset, _features(part, layout, table, offset), table)
        offset += table.num_rows
    if offset != part.rows:
        raise RecordError(
            f"{part.source}: read {offset} records where {part.rows} lines were counted "
            f"(from row {part.first_row + 1}); with split_type Line, a record may not span "
            "lines"
        )


def _rebatch(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last one may be shorter)."""
    pending: list[pa.Table] = []
    rows = 0
    for table in tables:
        pending.append(table)
        rows += table.num_rows
        while rows >= size:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, size)
            rest = merged.slice(size)
            pending, rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
    if rows:
        yield pa.concat_tables(pending)


# -- readers --------------------------------------------------------------------------
def _parquet_tables(
    part: Part, layout: FeatureLayout, batch_size: int, keep_columns: bool
) -> Iterator[pa.Table]:
    handle = pq.ParquetFile(part.path)
    metadata = handle.metadata
    groups: list[int] = []
    skip = first = 0
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        if first + rows > part.start and first < part.stop:
            if not groups:
                skip = part.start - first
            groups.append(group)
        first += rows
    columns = None if keep_columns else list(layout.columns)
    remaining = part.rows
    for batch in handle.iter_batches(
        batch_size=min(batch_size, 64 * 1024), row_groups=groups, columns=columns,
        use_threads=False,
    ):  # fmt: skip
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        table = pa.Table.from_batches([batch]).slice(skip, remaining)
        skip = 0
        remaining -= table.num_rows
        yield table
        if remaining <= 0:
            return


class _ByteRange(io.RawIOBase):
    """Bytes ``[start, stop)`` of a file as a stream of their own (read block by block)."""

    def __init__(self, path: str, start: int, stop: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed with the stream
        self._file.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._left)
        if size <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:size])
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _byte_range(part: Part) -> io.BufferedReader:
    return io.BufferedReader(_ByteRange(part.path, part.start, part.stop), 1 << 20)


def _csv_tables(part: Part, layout: FeatureLayout) -> Iterator[pa.Table]:
    names = list(layout.columns)
    done = 0
    try:  # the reader parses its first block as it opens
        reader = pacsv.open_csv(
            _byte_range(part),
            read_options=pacsv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
        )
        for batch in reader:
            done += batch.num_rows
            yield pa.Table.from_batches([batch])
    except pa.ArrowInvalid as exc:
        raise RecordError(_locate_csv(part, names, done) or f"{part.source}: {exc}") from None


def _json_tables(part: Part, layout: FeatureLayout, keep_columns: bool) -> Iterator[pa.Table]:
    if layout.list_column:
        schema = pa.schema([(layout.list_column, pa.list_(pa.float64()))])
    else:
        schema = pa.schema([(name, pa.float64()) for name in layout.columns])
    try:  # the reader parses its first block as it opens
        reader = pajson.open_json(
            _byte_range(part),
            read_options=pajson.ReadOptions(block_size=JSON_BLOCK_BYTES),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema,
                unexpected_field_behavior="infer" if keep_columns else "ignore",
            ),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch])
    except pa.ArrowInvalid as exc:
        raise RecordError(_locate_json(part, layout) or f"{part.source}: {exc}") from None


# -- features -------------------------------------------------------------------------
def _features(part: Part, layout: FeatureLayout, table: pa.Table, offset: int) -> np.ndarray:
    """The batch's feature matrix (float64; missing values are NaN)."""
    if layout.list_column:
        column = table.column(layout.list_column)
        lengths = pc.fill_null(pc.list_value_length(column), -1).to_numpy()
        wrong = np.nonzero(lengths != layout.width)[0]
        if wrong.size:
            row = int(wrong[0])
            raise RecordError(
                f"{part.describe_row(offset + row)}: {layout.list_column!r} holds "
                f"{max(int(lengths[row]), 0)} values; the model takes {layout.width} features"
            )
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
        return np.asarray(flat, dtype=np.float64).reshape(table.num_rows, layout.width or 0)
    arrays = []
    for name in layout.columns:
        column = table.column(name)
        if not _is_numeric(column.type):
            raise RecordError(
                f"{part.source}: feature {name!r} is {column.type}, but the model takes numbers"
            )
        arrays.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if not arrays:
        return np.empty((table.num_rows, 0))
    return np.column_stack(arrays).astype(np.float64, copy=False)


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    )


# -- locating a bad record (only once reading failed) ---------------------------------
def _lines(part: Part) -> Iterator[tuple[int, str]]:
    """The part's non-blank lines with their record offset in the part."""
    offset = 0
    with _byte_range(part) as handle:
        for raw in handle:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip() and (part.kind == "jsonl" or not line):
                continue
            yield offset, line
            offset += 1


def _locate_csv(part: Part, names: list[str], after: int) -> str | None:
    for offset, line in _lines(part):
        if offset < after:
            continue
        try:
            values = next(csv.reader(io.StringIO(line)))
        except (csv.Error, StopIteration):
            return f"{part.describe_row(offset)}: not a CSV line"
        if len(values) != len(names):
            return (
                f"{part.describe_row(offset)}: has {len(values)} values; the model takes "
                f"{len(names)} features {names}"
            )
        for name, value in zip(names, values, strict=True):
            if not _is_number(value):
                return f"{part.describe_row(offset)}: feature {name!r} is {value!r}, not a number"
    return None


def _locate_json(part: Part, layout: FeatureLayout) -> str | None:
    for offset, line in _lines(part):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return f"{part.describe_row(offset)}: not JSON ({exc})"
        if not isinstance(record, dict):
            return f"{part.describe_row(offset)}: not a JSON object"
        if layout.list_column:
            values = record.get(layout.list_column)
            if not isinstance(values, list):
                return f"{part.describe_row(offset)}: {layout.list_column!r} is not a list"
            named = [(f"{layout.list_column}[{i}]", v) for i, v in enumerate(values)]
        else:
            named = [(name, record.get(name)) for name in layout.columns]
        for name, value in named:
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return f"{part.describe_row(offset)}: feature {name!r} is {value!r}, not a number"
    return None


def _is_number(value: str) -> bool:
    if value in _CSV_NULLS:
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True
