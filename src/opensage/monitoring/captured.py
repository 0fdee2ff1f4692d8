"""The traffic an endpoint captured in a time window, as columns of numbers.

Capture files (``endpoints/<name>/data-capture/<variant>/YYYY/MM/DD/HH/*.jsonl``, see
``opensage.serving.capture``) are read a group of files at a time by Arrow's JSON reader;
CSV bodies of a group are joined and parsed by Arrow's CSV reader at once (the common
case, and the fast one); JSON and JSON Lines bodies are parsed record by record. Only the
window's feature columns (8 bytes a value) stay in memory.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from opensage.monitoring.capture_lines import OwnLines, read_own_lines
from opensage.storage import ArtifactStore

GROUP_BYTES = 32 * 1024 * 1024
"""Capture files are parsed together up to about this many bytes."""
CSV = "text/csv"

_DATA = pa.struct(
    [("observedContentType", pa.string()), ("data", pa.string()), ("encoding", pa.string())]
)
_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _DATA), ("endpointOutput", _DATA)])),
        (
            "eventMetadata",
            pa.struct(
                [
                    ("eventId", pa.string()),
                    ("inferenceTime", pa.string()),
                    ("inferenceId", pa.string()),
                ]
            ),
        ),
    ]
)


@dataclass
class Column:
    """One feature's values in the window: NaN where missing or not a number.

    Kept as the pieces read group by group: the checks need only the finite values,
    sorted, which one copy of the pieces gives (joining them first would be another)."""

    parts: list[np.ndarray]
    missing: int = 0
    non_numeric: int = 0
    examples: list[str] = field(default_factory=list)
    """A few of the values that were not numbers."""

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def values(self) -> np.ndarray:
        """All the values, in order."""
        if len(self.parts) == 1:
            return self.parts[0]
        return np.concatenate(self.parts) if self.parts else np.empty(0)

    def sorted_finite(self) -> np.ndarray:
        """The finite values, sorted."""
        kept = np.concatenate([part[np.isfinite(part)] for part in self.parts or [np.empty(0)]])
        kept.sort()
        return kept


@dataclass
class Window:
    """What the endpoint was asked and answered between ``start`` and ``end``."""

    start: datetime
    end: datetime
    features: list[str]
    records: int = 0
    rows: int = 0
    columns: dict[str, Column] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    predictions: np.ndarray | None = None
    """One row per input row (one column, or one per class)."""
    event_ids: pa.Array | None = None
    """Each input row's request: its inference id if the caller gave one, else its event
    id."""
    notes: list[str] = field(default_factory=list)


def capture_prefix(endpoint: str) -> str:
    return f"endpoints/{endpoint}/data-capture"


def window_files(
    store: ArtifactStore, endpoint: str, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    """Capture files of ``endpoint`` in the hour folders that overlap [start, end), with
    their sizes."""
    hours = set()
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        hours.add(hour.strftime("%Y/%m/%d/%H"))
        hour += timedelta(hours=1)
    files = []
    for key, size in store.list_sizes(capture_prefix(endpoint)):
        parts = key.split("/")
        if len(parts) >= 9 and "/".join(parts[4:8]) in hours and key.endswith(".jsonl"):
            files.append((key, size))
    return files


def read_window(
    store: ArtifactStore, endpoint: str, start: datetime, end: datetime, features: Sequence[str]
) -> Window:
    """The captured requests of ``endpoint`` with an inference time in [start, end)."""
    reader = _WindowReader(Window(start=start, end=end, features=list(features)))
    for group in _groups(store, window_files(store, endpoint, start, end)):
        reader.add(group)
    return reader.finish()


def _groups(store: ArtifactStore, files: list[tuple[str, int]]) -> Iterator[memoryview]:
    """The files' bytes, a few files at a time, each group read straight into one buffer
    (with room for a newline after a file whose last line lacks one). The buffer is
    reused: each view is valid until the next one is taken."""
    start = 0
    buffer = bytearray()
    while start < len(files):
        stop, total = start, 0
        while stop < len(files) and (total < GROUP_BYTES or stop == start):
            total += files[stop][1] + 1
            stop += 1
        if len(buffer) < total:  # one buffer for every group: its pages are touched once
            buffer = bytearray(total)
        view = memoryview(buffer)
        filled = 0
        for key, size in files[start:stop]:
            filled += store.read_into(key, view[filled : filled + size])
            if filled and view[filled - 1] != 0x0A:
                view[filled] = 0x0A
                filled += 1
        yield view[:filled]
        start = stop


class _WindowReader:
    """Accumulates the columns of a window, group of records by group."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.width = len(window.features)
        self.values: list[list[np.ndarray]] = [[] for _ in window.features]
        self.missing = [0] * self.width
        self.non_numeric = [0] * self.width
        self.examples: list[list[str]] = [[] for _ in window.features]
        self.extra: set[str] = set()
        self.absent: set[str] = set()
        self.predictions: list[np.ndarray] = []
        self.predictions_ok = True
        self.event_ids: list[pa.Array] = []

    def add(self, data: memoryview) -> None:
        buffer = pa.py_buffer(data)
        own = read_own_lines(buffer, self.width)
        if own is not None:
            self._add_own(own)
            return
        table = pajson.read_json(
            pa.BufferReader(buffer),
            read_options=pajson.ReadOptions(block_size=4 * 1024 * 1024),
            parse_options=pajson.ParseOptions(
                explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
        times = pc.cast(
            pc.struct_field(table.column("eventMetadata"), [1]), pa.timestamp("us", "UTC")
        )
        table = table.filter(self._in_window(times))
        if table.num_rows == 0:
            return
        capture = table.column("captureData")
        inputs = pc.struct_field(capture, [0])
        outputs = pc.struct_field(capture, [1])
        metadata = table.column("eventMetadata")
        # Ground truth names a request by the caller's inference id if it sent one.
        events = pc.coalesce(pc.struct_field(metadata, [2]), pc.struct_field(metadata, [0]))
        if isinstance(events, pa.ChunkedArray):
            events = events.combine_chunks()
        self.window.records += table.num_rows
        if not self._add_csv(inputs, outputs, events):
            for number in range(table.num_rows):
                self._add_record(
                    inputs[number].as_py(), outputs[number].as_py(), events[number].as_py()
                )

    def _in_window(self, times: pa.Array | pa.ChunkedArray) -> pa.Array:
        start = pa.scalar(self.window.start, pa.timestamp("us", "UTC"))
        end = pa.scalar(self.window.end, pa.timestamp("us", "UTC"))
        keep = pc.and_(pc.greater_equal(times, start), pc.less(times, end))
        return pc.fill_null(keep, False)

    # -- the fastest path: the data plane's own lines of one-row CSV requests ------------
    def _add_own(self, own: OwnLines) -> None:
        keep = self._in_window(own.times.combine_chunks())
        rows = pc.sum(keep).as_py() or 0
        if rows == 0:
            return
        every = rows == len(own.times)
        self.window.records += rows
        for index, column in enumerate(own.values):
            self._add_values(index, column if every else column.filter(keep))
        predictions = own.predictions if every else own.predictions.filter(keep)
        self._add_predictions(_floats(predictions).reshape(-1, 1))
        self.event_ids.append(own.events if every else own.events.filter(keep))

    # -- the fast path: every request and response of the group is CSV -------------------
    def _add_csv(self, inputs: pa.ChunkedArray, outputs: pa.ChunkedArray, events: pa.Array) -> bool:
        types = pc.unique(pc.struct_field(inputs, [0]))
        out_types = pc.unique(pc.struct_field(outputs, [0]))
        encodings = pc.unique(pc.struct_field(inputs, [2]))
        if types.to_pylist() != [CSV] or encodings.to_pylist() != ["CSV"]:
            return False
        bodies = pc.utf8_rtrim_whitespace(pc.struct_field(inputs, [1]))
        table = _read_csv_lines(bodies)
        if table is None:
            return False  # ragged rows: record by record
        if table.num_rows != len(bodies):  # some requests hold several rows
            rows_each = pc.add(pc.count_substring(bodies, "\n"), 1).to_numpy(zero_copy_only=False)
            if table.num_rows != int(rows_each.sum()):
                return False  # blank lines inside bodies: record by record
            events = events.take(np.repeat(np.arange(len(events)), rows_each))
        self._add_table(table)
        self.event_ids.append(events)
        self._add_csv_outputs(outputs, out_types, table.num_rows)
        return True

    def _add_csv_outputs(self, outputs: pa.ChunkedArray, out_types: pa.Array, rows: int) -> None:
        predictions = None
        if out_types.to_pylist() == [CSV]:
            answers = _read_csv_lines(pc.utf8_rtrim_whitespace(pc.struct_field(outputs, [1])))
            if answers is not None and answers.num_rows == rows:
                try:
                    predictions = np.column_stack([_floats(c) for c in answers.columns])
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    predictions = None
        if predictions is None:
            parsed = [_answer_rows(o) for o in outputs.to_pylist()]
            predictions = _stack(parsed, rows)
        self._add_predictions(predictions)

    def _add_table(self, table: pa.Table) -> None:
        for index, column in enumerate(table.columns):
            if index >= self.width:
                self.extra.add(f"column_{index + 1}")
                continue
            self._add_values(index, column)
        for index in range(table.num_columns, self.width):
            self.absent.add(self.window.features[index])
            self._add_nothing(index, table.num_rows)

    def _add_values(self, index: int, column: pa.ChunkedArray) -> None:
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:  # all numbers (the usual case): no need to look at each
                column = column.cast(pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = self._numbers_of_text(index, column)
        values = _floats(column)
        self.missing[index] += int(np.isnan(values).sum())
        self.values[index].append(values)

    def _numbers_of_text(self, index: int, column: pa.Array) -> pa.Array:
        """Text values as numbers: empty ones missing, others counted as not numbers."""
        text = pc.utf8_trim_whitespace(column)
        empty = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
        numeric = pc.match_substring_regex(text, _NUMBER)
        bad = pc.and_(pc.invert(empty), pc.invert(pc.fill_null(numeric, False)))
        self.non_numeric[index] += pc.sum(bad).as_py() or 0
        if len(self.examples[index]) < 3:
            examples = text.filter(pc.fill_null(bad, False)).slice(0, 3).to_pylist()
            self.examples[index].extend(str(e) for e in examples)
        return pc.if_else(pc.fill_null(numeric, False), text, None).cast(pa.float64())

    def _add_nothing(self, index: int, rows: int) -> None:
        self.values[index].append(np.full(rows, np.nan))
        self.missing[index] += rows

    def _add_predictions(self, predictions: np.ndarray | None) -> None:
        if predictions is None:
            self.predictions_ok = False
        else:
            self.predictions.append(predictions)

    # -- the general path: one record at a time --------------------------------------
    def _add_record(self, given: dict[str, Any], answer: dict[str, Any], event: str) -> None:
        rows = _request_rows(given, self.window.features)
        if rows is None:
            self.window.notes.append(f"event {event}: the request could not be read")
            self.window.records -= 1
            return
        named = rows and isinstance(rows[0], dict)
        for index, name in enumerate(self.window.features):
            raw = [r.get(name) if named else (r[index] if index < len(r) else None) for r in rows]
            present = [name in r for r in rows] if named else [index < len(r) for r in rows]
            if not all(present):
                self.absent.add(name)
            self._add_values(index, pa.array([_text(v) for v in raw], pa.string()))
        for row in rows:
            if named:
                self.extra.update(k for k in row if k not in self.window.features)
            elif len(row) > self.width:
                self.extra.update(f"column_{i + 1}" for i in range(self.width, len(row)))
        self.event_ids.append(pa.array([event] * len(rows), pa.string()))
        self._add_predictions(_stack([_answer_rows(answer)], len(rows)))

    def finish(self) -> Window:
        window = self.window
        for index, name in enumerate(window.features):
            window.columns[name] = Column(
                parts=self.values[index],
                missing=self.missing[index],
                non_numeric=self.non_numeric[index],
                examples=self.examples[index],
            )
        window.rows = window.columns[window.features[0]].size if window.features else 0
        window.extra_columns = sorted(self.extra)
        window.missing_columns = [f for f in window.features if f in self.absent]
        if self.event_ids:
            window.event_ids = pa.concat_arrays([e.cast(pa.string()) for e in self.event_ids])
        if self.predictions_ok and self.predictions:
            widths = {p.shape[1] for p in self.predictions}
            if len(widths) == 1:
                window.predictions = np.concatenate(self.predictions)
            else:
                window.notes.append("the model answered with different numbers of outputs")
        elif not self.predictions_ok:
            window.notes.append("some responses could not be read as predictions")
        return window


_NUMBER = r"(?i)^[-+]?(\d+\.?\d*(e[-+]?\d+)?|\.\d+(e[-+]?\d+)?|inf|infinity|nan)$"


def _read_csv_lines(bodies: pa.Array | pa.ChunkedArray) -> pa.Table | None:
    """Headerless CSV bodies (one or more lines each) parsed as one table."""
    joined = pc.binary_join_element_wise(bodies, "", "\n")
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    if len(joined) == 0 or joined.null_count:
        return None
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    first, last = int(offsets[joined.offset]), int(offsets[joined.offset + len(joined)])
    data = joined.buffers()[2][first:last]
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True, block_size=8 * 1024 * 1024
            ),
            # Only an empty field is missing, as on the record-by-record path (Arrow would
            # also take "NA", "null" ... as missing).
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
        )
    except pa.ArrowInvalid:
        return None


def _floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column of numbers (or booleans) as float64, NaN where null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan)
    values = pc.fill_null(column.cast(pa.float64()), math.nan)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _decode(data: dict[str, Any] | None) -> tuple[str, bytes] | None:
    if not data or data.get("data") is None:
        return None
    raw = data["data"]
    body = base64.b64decode(raw) if data.get("encoding") == "BASE64" else str(raw).encode()
    return str(data.get("observedContentType") or ""), body


def _request_rows(data: dict[str, Any] | None, features: Sequence[str]) -> list[Any] | None:
    """The rows of a captured request: lists (by position) or dicts (by feature name)."""
    decoded = _decode(data)
    if decoded is None:
        return None
    kind, body = decoded
    try:
        if kind == CSV:
            return [line.split(",") for line in body.decode().splitlines() if line.strip()]
        if kind == "application/jsonlines":
            rows = []
            for line in body.splitlines():
                if line.strip():
                    rows.extend(_json_rows(orjson.loads(line)))
            return rows
        return _json_rows(orjson.loads(body))
    except (ValueError, UnicodeDecodeError):
        return None


def _json_rows(value: Any) -> list[Any]:
    if isinstance(value, dict):
        if "instances" in value:
            value = value["instances"]
        elif "features" in value:
            value = [value["features"]]
        else:
            value = [value]
    if not isinstance(value, list):
        raise ValueError("not rows")
    if value and not isinstance(value[0], list | dict):
        value = [value]
    rows: list[Any] = value
    return rows


def _answer_rows(data: dict[str, Any] | None) -> list[Any] | None:
    """The predictions of a captured response, one per row (a list per row for several
    outputs)."""
    decoded = _decode(data)
    if decoded is None:
        return None
    kind, body = decoded
    try:
        if kind == CSV:
            return [
                [float(v) for v in line.split(",")]
                for line in body.decode().splitlines()
                if line.strip()
            ]
        if kind == "application/jsonlines":
            return [
                orjson.loads(line).get("prediction") for line in body.splitlines() if line.strip()
            ]
        value = orjson.loads(body)
        if isinstance(value, dict):
            value = value.get("predictions")
        return value if isinstance(value, list) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


def _stack(answers: list[list[Any] | None], rows: int) -> np.ndarray | None:
    """Predictions of several responses as one (rows, outputs) array, if they are numbers
    and one per input row."""
    flat: list[Any] = []
    for answer in answers:
        if answer is None:
            return None
        flat.extend(answer)
    if len(flat) != rows:
        return None
    try:
        array = np.asarray([v if isinstance(v, list) else [v] for v in flat], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array.reshape(rows, -1) if array.size else np.empty((rows, 1))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
