"""Streaming conversion of CSV, JSON Lines and Parquet sources into one Parquet file.

Rows move in record batches (CSV: one table per block) from the source reader straight
into a ``ParquetWriter``, the next block being read while one is written, so memory stays
bounded by a few blocks whatever the size of the file.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from opensage.errors import InvalidInput

_T = TypeVar("_T")
_Slot = queue.Queue[tuple[str, Any]]  # ("item" | "end" | "error", value)
SourceFormat = Literal["csv", "parquet", "jsonl"]
LogicalType = Literal["integer", "float", "boolean", "string", "timestamp", "date"]

# CSV blocks. A few are in memory at once (being read, parsed, waiting, written), as bytes
# and as Arrow columns, so the conversion's memory grows with this: measured on a 320 MiB
# CSV, ~100 MiB at 4 MiB blocks, ~250 MiB at 16 MiB, at the same speed. Each block is
# written as its own row group (or more, of at most ROW_GROUP_ROWS rows), and a row may
# span at most MAX_ROW_BLOCKS blocks.
BLOCK_SIZE = 4 * 1024 * 1024
# JSON Lines blocks: a line must fit in one.
JSON_BLOCK_SIZE = 16 * 1024 * 1024
# Small enough that a batch transform part, which has to decode its row group from the
# start, wastes little; large enough that the per-group overhead does not show.
ROW_GROUP_ROWS = 64 * 1024
# A CSV block is split into pieces of this size that are parsed on different threads.
CSV_PIECE_SIZE = 1024 * 1024
# A CSV row (a quoted value may hold line breaks) may span at most this many blocks.
MAX_ROW_BLOCKS = 4
_UTF8_BOM = b"\xef\xbb\xbf"
# Whether a quoted value holds a line break is found from the bytes inside quoted values
# when they are at most this share of a block (the usual short quoted strings), else from
# the positions of all its line breaks.
GATHER_SHARE = 1 / 8
# Dictionary encoding pays for a column whose values repeat, and only costs for one of
# mostly distinct values: Parquet's writer fills a dictionary for it in every row group
# before falling back to plain encoding. So a column is dictionary-encoded only when its
# first batch has at most 1 distinct value in DICTIONARY_REPEATS and those take at most
# DICTIONARY_PAGE_BYTES (measured on the 1M-row bench CSV: writing takes half the CPU
# time of dictionary-encoding every column, and the file is 18 % smaller). The page limit
# also bounds the dictionary of a column whose values turn out more varied further on.
DICTIONARY_PAGE_BYTES = 128 * 1024
DICTIONARY_REPEATS = 4
# The rows a conversion writes are also kept in memory (they are there anyway, as Arrow
# batches) when the source file is at most this large and they take at most this much,
# so that their statistics need not read the file back; a larger file keeps none, and its
# statistics read it column by column (so memory stays bounded whatever its size).
KEEP_BYTES = 128 * 1024 * 1024

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
# What a column becomes when a later value does not fit the type inferred from the first
# block (one that was empty there starts over from integer).
_WIDER = {
    "null": pa.int64(),
    "int64": pa.float64(),
    "double": pa.string(),
    "bool": pa.string(),
    "date32": pa.string(),
    "timestamp": pa.string(),
}


class KeptRows:
    """The rows a conversion writes, kept in memory too (they are there anyway, as Arrow
    batches) while they take at most ``limit`` bytes, so that their statistics need not
    read the file back; once they would take more, none are kept."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = KEEP_BYTES if limit is None else limit
        self.nbytes = 0
        self.overflowed = False
        self._batches: list[pa.RecordBatch] = []

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self.overflowed:
            return
        self.nbytes += batch.nbytes
        if self.nbytes > self.limit:
            self.overflowed = True
            self._batches = []
            return
        self._batches.extend(batch.to_batches() if isinstance(batch, pa.Table) else [batch])

    def table(self, schema: pa.Schema) -> pa.Table | None:
        """Every row written, as one table; None if they did not fit. Lets them go."""
        batches, self._batches = self._batches, []
        return None if self.overflowed else pa.Table.from_batches(batches, schema=schema)


def rows_to_keep(source: IO[bytes]) -> KeptRows:
    """What to keep of ``source``'s rows: all of them (up to ``KEEP_BYTES``) if it is a
    file of known size no larger than ``KEEP_BYTES``; none if it is larger, or of unknown
    size (decompressed on the fly, say)."""
    size = _known_size(source)
    return KeptRows(None if size is not None and size <= KEEP_BYTES else 0)


def _known_size(source: IO[bytes]) -> int | None:
    if isinstance(source, pa.NativeFile):  # a local file
        try:
            return int(source.size())
        except (OSError, pa.ArrowException):
            return None
    size = getattr(source, "size", None)  # fsspec's remote files (not decompressors)
    return size if isinstance(size, int) else None


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
    column_types: dict[str, str | pa.DataType] | None = None,
    delimiter: str = ",",
    keep: KeptRows | None = None,
) -> IngestResult:
    """Stream ``source`` into ``target`` as Parquet and describe what was written.

    CSV types are inferred from the first block; a later value that does not fit raises
    ``Widen`` so the caller can retry with that column widened (int → float → string).
    ``column_types``: by name (integer, float, ...) the types the user declared, which
    never widen; as Arrow types, those of earlier widenings, which may widen further.
    ``keep`` keeps the rows written while they fit in memory.
    """
    types = {name: _arrow_type(name, t) for name, t in (column_types or {}).items()}
    declared = frozenset(
        n for n, t in (column_types or {}).items() if not isinstance(t, pa.DataType)
    )
    batches_read = _read_batches(source, fmt, types, delimiter, declared)
    try:
        with closing(_read_ahead(batches_read)) as batches:
            try:
                first = next(batches)
            except StopIteration:
                raise InvalidInput("the file has no rows", field="source") from None
            _check_columns(first.schema, types)
            num_rows = _write(first, batches, target, keep)
    finally:
        # The blocks' memory, kept by Arrow's allocator for reuse, back to the system
        # (what ``keep`` holds excepted).
        pa.default_memory_pool().release_unused()
    if num_rows == 0:
        raise InvalidInput("the file has a header but no rows", field="source")
    return IngestResult(schema=first.schema, num_rows=num_rows)


def _write(
    first: pa.RecordBatch | pa.Table,
    rest: Iterator[pa.RecordBatch | pa.Table],
    target: IO[bytes],
    keep: KeptRows | None,
) -> int:
    """Write ``first`` and ``rest`` (conformed to the schema of ``first``) as Parquet."""
    schema = first.schema
    num_rows = 0
    with pq.ParquetWriter(
        target,
        schema,
        compression="snappy",
        use_dictionary=repeating_columns(first),
        dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES,
    ) as writer:
        batch: pa.RecordBatch | pa.Table | None = first
        while batch is not None:
            if batch.schema != schema:
                batch = _conform(batch, schema)
            if batch.num_rows:
                writer.write(batch, row_group_size=ROW_GROUP_ROWS)
                num_rows += batch.num_rows
                if keep is not None:
                    keep.add(batch)
            batch = next(rest, None)
    return num_rows


def repeating_columns(batch: pa.RecordBatch | pa.Table) -> list[str]:
    """The columns of ``batch`` worth dictionary-encoding: those with at most one distinct
    value in ``DICTIONARY_REPEATS`` rows, whose distinct values fit in a dictionary page."""
    chosen = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            distinct = pc.unique(column)
        except pa.ArrowNotImplementedError:  # nested types: written plain
            continue
        if (
            len(distinct) * DICTIONARY_REPEATS <= max(batch.num_rows, 1)
            and distinct.nbytes <= DICTIONARY_PAGE_BYTES
        ):
            chosen.append(name)
    return chosen


def _read_ahead(items: Iterator[_T]) -> Generator[_T, None, None]:
    """``items``, each produced on another thread while the caller handles the one before.

    Reading the next block then overlaps writing this one (pyarrow releases the GIL for
    both), and at most two items wait in memory besides the one being handled. Closing
    this generator stops the producer and waits for it.
    """
    slot: _Slot = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _offer(slot, ("item", item), stop):
                    return
            _offer(slot, ("end", None), stop)
        except BaseException as exc:
            _offer(slot, ("error", exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="opensage-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


def _offer(slot: _Slot, entry: tuple[str, Any], stop: threading.Event) -> bool:
    """Put ``entry`` in ``slot`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            slot.put(entry, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


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
    source: IO[bytes],
    fmt: SourceFormat,
    types: dict[str, pa.DataType],
    delimiter: str,
    declared: frozenset[str],
) -> Iterator[pa.RecordBatch | pa.Table]:
    try:
        if fmt == "csv":
            yield from _csv_batches(source, types, delimiter, declared)
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
        if "straddl" in message:  # Arrow: "straddling object straddles two block boundaries"
            message = (
                f"a row is longer than {JSON_BLOCK_SIZE} bytes, the most this server reads at once"
            )
        raise InvalidInput(f"cannot read the {fmt} file: {message}", field="source") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the {fmt} file: {exc}", field="source") from None


def _csv_batches(
    source: IO[bytes], types: dict[str, pa.DataType], delimiter: str, declared: frozenset[str]
) -> Iterator[pa.RecordBatch | pa.Table]:
    """The CSV rows, one batch (or table) per block of about ``BLOCK_SIZE`` bytes.

    The first block goes through Arrow's streaming reader, which infers the column types
    from it. Arrow's streaming reader parses on one thread only, so the later blocks are
    parsed by ``read_csv`` with those types, in pieces on all threads; a block where a
    quoted value holds a line break is parsed in one piece instead (Arrow would cut a
    piece there). Blocks end where rows end, never inside a quoted value (see
    ``_line_blocks``).
    """
    parse = pacsv.ParseOptions(delimiter=delimiter)
    # A quoted value may hold a line break: Arrow must not cut a block at one (matters
    # only for a last block without a final line break, the others being one piece).
    quoted = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    quote = parse.quote_char.encode() if parse.quote_char else None
    blocks = _line_blocks(source, BLOCK_SIZE, quote=quote, delimiter=delimiter.encode())
    head, head_breaks = next(blocks, (memoryview(b""), False))
    reader = pacsv.open_csv(
        pa.py_buffer(bytes(head)),  # read lazily: a copy, as the block's buffer is reused
        read_options=pacsv.ReadOptions(block_size=max(len(head), 1), use_threads=True),
        parse_options=quoted if head_breaks else parse,
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    schema = reader.schema
    with _widening(schema.names, declared):
        yield from reader
    convert = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True)
    for block, breaks in blocks:
        with _widening(schema.names, declared):
            yield _read_block(block, schema.names, quoted if breaks else parse, convert, breaks)


def _read_block(
    block: bytes | memoryview,
    names: list[str],
    parse: pacsv.ParseOptions,
    convert: pacsv.ConvertOptions,
    whole: bool,
) -> pa.Table:
    """A block of whole rows, parsed in pieces on all threads; in one piece if ``whole``
    or if a line is longer than a piece (which Arrow cannot parse in pieces)."""
    sizes = [len(block) + 1] if whole else [CSV_PIECE_SIZE, len(block) + 1]
    for piece_size in sizes:
        read = pacsv.ReadOptions(column_names=names, block_size=piece_size, use_threads=True)
        try:
            return pacsv.read_csv(
                pa.py_buffer(block), read_options=read, parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc) or piece_size > len(block):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _widening(names: list[str], declared: frozenset[str]) -> Iterator[None]:
    """Turn a CSV conversion error in a column of inferred (not ``declared``) type into
    ``Widen``."""
    try:
        yield
    except pa.ArrowInvalid as exc:
        widened = widen_from_error(str(exc), names)
        if widened and widened[0] not in declared:
            raise Widen(*widened) from None
        raise


def _line_blocks(
    source: IO[bytes], size: int, *, quote: bytes | None = None, delimiter: bytes = b","
) -> Iterator[tuple[memoryview, bool]]:
    """``source`` in blocks of about ``size`` bytes, each ending after a line break (as
    Arrow's CSV reader cuts its blocks) that is not inside a quoted value, with whether a
    quoted value in the block holds a line break.

    The blocks are views of one buffer, read into and reused: a block is valid until the
    next one is asked for (Arrow's CSV reader copies what it parses). A row longer than
    ``MAX_ROW_BLOCKS`` blocks (or a quote never closed) is an error rather than the rest
    of the file in memory.
    """
    buffer = bytearray(size)
    carried = 0  # bytes of an unfinished row at the start of ``buffer``
    first = True
    while True:
        if carried + size > len(buffer):  # a long row: a larger buffer
            larger = bytearray(carried + size)
            larger[:carried] = buffer[:carried]
            buffer = larger
        view = memoryview(buffer)
        got = _read_into(source, view[carried : carried + size])
        length = carried + got
        if not got:
            if carried:
                last = view[:carried]
                yield last, quote is not None and buffer.find(quote, 0, carried) >= 0
            return
        bom = first and buffer.startswith(_UTF8_BOM)
        cut, breaks = _row_end(buffer, length, quote, delimiter, bom=bom)
        if cut < 0:
            if length > MAX_ROW_BLOCKS * size:
                unclosed = ""
                if quote is not None and buffer.find(quote, 0, length) >= 0:
                    unclosed = " (or a quoted value is never closed)"
                raise InvalidInput(
                    f"cannot read the csv file: a row is longer than {MAX_ROW_BLOCKS * size} "
                    f"bytes{unclosed}",
                    field="source",
                )
            carried = length
            continue
        yield view[:cut], breaks
        rest = bytes(view[cut:length])
        view[: len(rest)] = rest
        carried, first = len(rest), False


def _read_into(source: IO[bytes], view: memoryview) -> int:
    """Fill ``view`` from ``source``; how many bytes were read (fewer only at its end)."""
    readinto = getattr(source, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            count = readinto(view[got:]) or 0
        else:
            data = source.read(len(view) - got)
            count = len(data)
            view[got : got + count] = data
        if not count:
            break
        got += count
    return got


def _row_end(
    data: bytearray, length: int, quote: bytes | None, delimiter: bytes, *, bom: bool = False
) -> tuple[int, bool]:
    """Where the last complete row of ``data[:length]`` (which starts where a row starts,
    after a byte order mark if ``bom``) ends: after its last line break (``\\n``, else
    ``\\r``) outside quoted values; -1 if none. And whether a quoted value before there
    holds a line break."""
    line_break = b"\n" if data.find(b"\n", 0, length) >= 0 else b"\r"
    cut = data.rfind(line_break, 0, length)
    if cut < 0 or quote is None or data.find(quote, 0, cut) < 0:
        return (cut + 1 if cut >= 0 else -1), False
    codes = np.frombuffer(data, dtype=np.uint8, count=length)
    quoting = _QuotedValues(codes, quote[0], delimiter, len(_UTF8_BOM) if bom else 0)
    while cut >= 0:
        start = quoting.start_of(cut)
        if start < 0:
            return cut + 1, quoting.hold_line_breaks(cut, data.find(b"\r", 0, cut) >= 0)
        cut = data.rfind(line_break, 0, start)
    return -1, False


class _QuotedValues:
    """Where the quoted values of ``codes`` (bytes whose first row starts at
    ``row_start``) are.

    Quoting as Arrow reads it (double quotes, no escape character): a quote opens a quoted
    value only at the start of a field; inside, two quotes stand for one and a single one
    closes it; elsewhere quotes are plain characters. Only the runs of adjacent quotes
    matter: an odd run at a field start opens a value outside one and closes it inside
    one; an odd run elsewhere closes the value it is in, if any; an even run changes
    nothing. So after a run, whether a quoted value is open is the parity of the odd runs
    at field starts since the last odd run elsewhere.

    Only the quotes' positions take a pass over all of ``codes``; the rest works on the
    runs of quotes and on the bytes inside quoted values.
    """

    def __init__(self, codes: np.ndarray, quote: int, delimiter: bytes, row_start: int) -> None:
        self._codes = codes
        quotes = np.flatnonzero(codes == quote)
        first = np.ones(quotes.size, dtype=bool)
        np.not_equal(quotes[1:] - quotes[:-1], 1, out=first[1:])
        if first.all():  # no two quotes side by side: each is a run of one
            starts, lengths = quotes, np.ones(quotes.size, dtype=quotes.dtype)
        else:
            firsts = np.flatnonzero(first)
            starts = quotes[firsts]  # where each run of quotes starts
            lengths = np.diff(firsts, append=quotes.size)
        odd = (lengths & 1).astype(bool)
        before = codes[np.maximum(starts - 1, 0)]
        field_start = (starts == row_start) | (before == 0x0A) | (before == 0x0D)
        if len(delimiter) == 1:
            field_start |= before == delimiter[0]
        self._starts = starts
        self._ends = starts + lengths  # one past each run's last quote
        self._open_after = self._open_after_runs(odd, field_start)  # a value is open after
        self._opens = np.flatnonzero(
            self._open_after & ~np.concatenate(([False], self._open_after[:-1]))
        )

    @staticmethod
    def _open_after_runs(odd: np.ndarray, field_start: np.ndarray) -> np.ndarray:
        """Whether a quoted value is open after each run of quotes."""
        opening = odd & field_start
        if odd.all() and opening[::2].all() and not opening[1::2].any():
            # The usual case: each value opened at a field start and closed by the next run.
            alternate = np.zeros(odd.size, dtype=bool)
            alternate[::2] = True
            return alternate
        toggles = np.cumsum(opening, dtype=np.int64)
        closing = np.where(odd & ~field_start, np.arange(odd.size), -1)
        last_closing = np.maximum.accumulate(closing)
        since = toggles - np.where(last_closing >= 0, toggles[np.maximum(last_closing, 0)], 0)
        return (since & 1).astype(bool)

    def start_of(self, position: int) -> int:
        """Where the quoted value ``position`` is in starts; -1 if it is in none."""
        run = int(np.searchsorted(self._starts, position)) - 1  # the last run before
        if run < 0 or not self._open_after[run]:
            return -1
        return int(self._starts[self._opens[np.searchsorted(self._opens, run, side="right") - 1]])

    def hold_line_breaks(self, end: int, carriage_returns: bool) -> bool:
        """Whether a line break before ``end`` (which is outside quoted values) is inside
        one; ``carriage_returns``: whether there are ``\\r`` before ``end``."""
        runs = np.flatnonzero(self._open_after)
        begins = self._ends[runs]  # the bytes inside values, from after an open run ...
        stops = np.full(runs.size, end, dtype=np.int64)  # ... to the next run (or ``end``)
        followed = runs + 1 < self._starts.size
        stops[followed] = self._starts[runs[followed] + 1]
        np.minimum(stops, end, out=stops)
        sizes = stops - begins
        inside = sizes > 0
        begins, sizes = begins[inside], sizes[inside]
        total = int(sizes.sum())
        if total > GATHER_SHARE * end:  # long quoted values: find the line breaks instead
            return self._line_break_in_values(end, carriage_returns)
        positions = np.repeat(begins - (np.cumsum(sizes) - sizes), sizes)
        positions += np.arange(total)
        held = self._codes[positions]
        found = held == 0x0A
        if carriage_returns:
            found |= held == 0x0D
        return bool(found.any())

    def _line_break_in_values(self, end: int, carriage_returns: bool) -> bool:
        codes = self._codes[:end]
        is_break = codes == 0x0A
        if carriage_returns:
            is_break |= codes == 0x0D
        breaks = np.flatnonzero(is_break)
        runs = np.searchsorted(self._starts, breaks) - 1  # the last run before each
        inside = self._open_after[np.maximum(runs, 0)] & (runs >= 0)
        return bool(np.any(inside))


def _jsonl_batches(source: IO[bytes], types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    parse = pajson.ParseOptions(
        explicit_schema=pa.schema(list(types.items())) if types else None,
        unexpected_field_behavior="infer",
    )
    reader = pajson.open_json(
        source, read_options=pajson.ReadOptions(block_size=JSON_BLOCK_SIZE), parse_options=parse
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
