"""Streaming conversion of CSV, JSON Lines and Parquet sources into one Parquet file.

Rows move in record batches from the source reader straight into a ``ParquetWriter``,
so memory stays bounded by the block size whatever the size of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from opensage.errors import InvalidInput

SourceFormat = Literal["csv", "parquet", "jsonl"]
LogicalType = Literal["integer", "float", "boolean", "string", "timestamp", "date"]

BLOCK_SIZE = 16 * 1024 * 1024
ROW_GROUP_ROWS = 256 * 1024

_ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
_EXTENSIONS: dict[str, SourceFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_CSV_COLUMN_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+)")
_WIDER = {"int64": pa.float64(), "double": pa.string(), "bool": pa.string()}


@dataclass(frozen=True)
class IngestResult:
    """What the conversion wrote."""

    schema: pa.Schema
    num_rows: int


def detect_format(filename: str, declared: str | None) -> SourceFormat:
    """The source format: as declared, or from the file's extension."""
    if declared is not None:
        if declared not in ("csv", "parquet", "jsonl"):
            raise InvalidInput(
                f"unknown format {declared!r}; use csv, parquet or jsonl", field="format"
            )
        return declared  # type: ignore[return-value]
    name = filename.lower()
    for compressed in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(compressed)
    for ext, fmt in _EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    raise InvalidInput(
        f"cannot tell the format of {filename!r} from its extension; "
        "pass format=csv, parquet or jsonl",
        field="format",
    )


def logical_type(arrow_type: pa.DataType) -> str:
    """The platform's name for an Arrow type (integer, float, boolean, string, ...)."""
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_dictionary(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_null(arrow_type):
        return "unknown"
    return "other"


def convert_to_parquet(
    source: IO[bytes],
    fmt: SourceFormat,
    target: IO[bytes],
    *,
    column_types: dict[str, str] | None = None,
    delimiter: str = ",",
) -> IngestResult:
    """Stream ``source`` into ``target`` as Parquet and describe what was written.

    CSV types are inferred from the first block; a later value that does not fit raises
    ``_Widen`` so the caller can retry with that column widened (int → float → string).
    """
    types = {name: _arrow_type(name, t) for name, t in (column_types or {}).items()}
    batches = _read_batches(source, fmt, types, delimiter)
    try:
        first = next(batches)
    except StopIteration:
        raise InvalidInput("the file has no rows", field="source") from None
    _check_columns(first.schema, types)
    schema = first.schema
    num_rows = 0
    with pq.ParquetWriter(target, schema, compression="snappy") as writer:
        batch: pa.RecordBatch | None = first
        while batch is not None:
            if batch.schema != schema:
                batch = _conform(batch, schema)
            if batch.num_rows:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                num_rows += batch.num_rows
            batch = next(batches, None)
    if num_rows == 0:
        raise InvalidInput("the file has a header but no rows", field="source")
    return IngestResult(schema=schema, num_rows=num_rows)


class Widen(Exception):
    """A CSV column needs a wider type than the one inferred from the first block."""

    def __init__(self, column: str, to: pa.DataType) -> None:
        super().__init__(f"widen {column} to {to}")
        self.column = column
        self.to = to


def widen_from_error(message: str, column_names: list[str]) -> tuple[str, pa.DataType] | None:
    """Which column to widen, and to what, from a pyarrow CSV conversion error."""
    match = _CSV_COLUMN_ERROR.search(message)
    if not match:
        return None
    index, current = int(match.group(1)), match.group(2)
    wider = _WIDER.get(current)
    if wider is None or index >= len(column_names):
        return None
    return column_names[index], wider


def _arrow_type(column: str, name: str) -> pa.DataType:
    if isinstance(name, pa.DataType):
        return name
    try:
        return _ARROW_TYPES[name]
    except KeyError:
        raise InvalidInput(
            f"column {column!r}: unknown type {name!r}; use one of {', '.join(_ARROW_TYPES)}",
            field="column_types",
        ) from None


def _read_batches(
    source: IO[bytes], fmt: SourceFormat, types: dict[str, pa.DataType], delimiter: str
) -> Iterator[pa.RecordBatch]:
    try:
        if fmt == "csv":
            yield from _csv_batches(source, types, delimiter)
        elif fmt == "jsonl":
            yield from _jsonl_batches(source, types)
        else:
            yield from _parquet_batches(source, types)
    except Widen:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        message = str(exc).strip()
        if message.startswith("Empty") or "Empty JSON" in message:
            raise InvalidInput("the file is empty", field="source") from None
        raise InvalidInput(f"cannot read the {fmt} file: {message}", field="source") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the {fmt} file: {exc}", field="source") from None


def _csv_batches(
    source: IO[bytes], types: dict[str, pa.DataType], delimiter: str
) -> Iterator[pa.RecordBatch]:
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    names = reader.schema.names
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            widened = widen_from_error(str(exc), names)
            if widened and widened[0] not in types:
                raise Widen(*widened) from None
            raise
        yield batch


def _jsonl_batches(source: IO[bytes], types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    parse = pajson.ParseOptions(
        explicit_schema=pa.schema(list(types.items())) if types else None,
        unexpected_field_behavior="infer",
    )
    reader = pajson.open_json(
        source, read_options=pajson.ReadOptions(block_size=BLOCK_SIZE), parse_options=parse
    )
    yield from reader


def _parquet_batches(source: IO[bytes], types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    parquet = pq.ParquetFile(source)
    for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
        if types:
            batch = _cast_columns(batch, types)
        yield batch


def _cast_columns(batch: pa.RecordBatch, types: dict[str, pa.DataType]) -> pa.RecordBatch:
    arrays = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        target = types.get(field.name)
        if target is not None and field.type != target:
            try:
                column = column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidInput(
                    f"column {field.name!r} cannot be read as {target}: {exc}",
                    field="column_types",
                ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Make a later block match the schema of the first (JSON infers each block anew)."""
    if batch.schema.names != schema.names:
        extra = sorted(set(batch.schema.names) - set(schema.names))
        if extra:
            raise InvalidInput(
                f"rows further into the file have fields the first rows lack: {extra}",
                field="source",
            )
        columns = {name: batch.column(name) for name in batch.schema.names}
        batch = pa.RecordBatch.from_arrays(
            [columns.get(f.name, pa.nulls(batch.num_rows, f.type)) for f in schema],
            schema=schema,
        )
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"rows further into the file do not match the types of the first rows: {exc}",
            field="source",
        ) from None


def _check_columns(schema: pa.Schema, types: dict[str, pa.DataType]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(schema.names):
        if not name.strip():
            raise InvalidInput(f"column #{index + 1} has no name", field="source")
        if name in seen:
            raise InvalidInput(f"column name {name!r} appears more than once", field="source")
        seen.add(name)
    unknown = sorted(set(types) - seen)
    if unknown:
        raise InvalidInput(
            f"column_types names columns the file lacks: {unknown}", field="column_types"
        )
