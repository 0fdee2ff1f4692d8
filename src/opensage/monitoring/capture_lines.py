"""The data plane's own capture lines of single-row CSV requests, read in one CSV pass.

Parsing some 500 bytes of JSON per request, and then the CSV body inside it, is most of
the cost of a check over a large window. In the common case every line of a group was
written by ``opensage.serving.capture.capture_line`` for a one-row CSV request answered
with one CSV value. Such a line, cut at its commas, always has its fields in the same
places: the request's values in the middle (read as numbers straight away), and JSON keys
and constants around them. The places are derived from the writer's own output, the
group is read by Arrow's CSV reader cutting at commas, and every constant field of every
line is checked. Anything else (JSON bodies, several rows or outputs, inference ids,
escapes, text among the values) makes ``read_own_lines`` answer None, and the group is
read as JSON instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from opensage.serving.capture import capture_line

_VALUE, _EVENT, _VARIANT = "7", "EVENT", "VARIANT"
_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Field:
    """A field that varies from line to line: its text between a fixed prefix and
    suffix."""

    index: int
    prefix: str
    suffix: str


@dataclass(frozen=True)
class Layout:
    """Where things are in a line of ``width`` values, cut at its commas."""

    fields: int
    width: int
    first: _Field
    """The first value (after the JSON key); the last value is ``first.index + width - 1``,
    followed by ``last_suffix``."""
    last_suffix: str
    output: _Field
    event: _Field
    time: _Field
    variant: _Field
    constants: dict[int, str]


@dataclass
class OwnLines:
    """A group of lines, read."""

    times: pa.ChunkedArray
    values: list[pa.ChunkedArray]
    """One column per feature: float64, or text for the first and last values."""
    predictions: pa.ChunkedArray
    events: pa.Array


@functools.lru_cache(maxsize=64)
def layout(width: int) -> Layout | None:
    """The layout of a line with ``width`` values (None for fewer than two)."""
    if width < 2:
        return None
    body = ",".join([_VALUE] * width).encode()
    line = capture_line(
        _EVENT, _VARIANT, "text/csv", body, "text/csv", f"{_VALUE}\n".encode(), _TIME
    )
    tokens = line.decode().split(",")
    first = next(i for i, t in enumerate(tokens) if t.endswith(f'"data":"{_VALUE}'))
    last = first + width - 1
    output = next(i for i in range(last + 1, len(tokens)) if '"data":"' in tokens[i])
    marker = _TIME.isoformat()
    variable = {
        "first": _Field(first, tokens[first][: -len(_VALUE)], ""),
        "output": _around(output, tokens[output], _VALUE),
        "event": _around(_find(tokens, _EVENT), tokens[_find(tokens, _EVENT)], _EVENT),
        "time": _around(_find(tokens, marker), tokens[_find(tokens, marker)], marker),
        "variant": _around(_find(tokens, _VARIANT), tokens[_find(tokens, _VARIANT)], _VARIANT),
    }
    taken = {f.index for f in variable.values()} | set(range(first, last + 1))
    return Layout(
        fields=len(tokens),
        width=width,
        first=variable["first"],
        last_suffix=tokens[last][len(_VALUE) :],
        output=variable["output"],
        event=variable["event"],
        time=variable["time"],
        variant=variable["variant"],
        constants={i: t for i, t in enumerate(tokens) if i not in taken},
    )


def _find(tokens: list[str], marker: str) -> int:
    return next(i for i, t in enumerate(tokens) if marker in t)


def _around(index: int, token: str, marker: str) -> _Field:
    at = token.index(marker)
    return _Field(index, token[:at], token[at + len(marker) :])


def read_own_lines(data: pa.Buffer, width: int) -> OwnLines | None:
    """The lines of ``data`` if every one is the data plane's single-row CSV line with
    ``width`` values; else None."""
    shape = layout(width)
    if shape is None:
        return None
    last = shape.first.index + width - 1
    names = [f"f{i}" for i in range(shape.fields)]
    types: dict[str, pa.DataType] = {names[i]: pa.string() for i in shape.constants}
    types.update({names[i]: pa.float64() for i in range(shape.first.index + 1, last)})
    for index in (shape.first.index, last, shape.output.index, shape.event.index):
        types[names[index]] = pa.string()
    types[names[shape.time.index]] = pa.string()
    # The variant is not needed: the fields around it pin the line's shape.
    wanted = [n for i, n in enumerate(names) if i != shape.variant.index]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 * 1024 * 1024),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=wanted,
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # another number of fields, or text among the values
    for index, expected in shape.constants.items():
        if not pc.all(pc.equal(table.column(names[index]), expected)).as_py():
            return None
    first = _inner(table.column(names[shape.first.index]), shape.first.prefix, "")
    final = _inner(table.column(names[last]), "", shape.last_suffix)
    if first is None or final is None:
        return None
    if pc.any(pc.match_substring(final, "\\")).as_py():
        # A body's own line end (one row, "...\n") is part of its last value.
        final = pc.replace_substring_regex(final, r"(\\r)?\\n$", "")
        if pc.any(pc.match_substring(final, "\\")).as_py():
            return None  # other escapes: the JSON reader knows them
    if pc.any(pc.match_substring(first, "\\")).as_py():
        return None
    inner: dict[str, pa.ChunkedArray | pa.Array | None] = {
        name: _inner(table.column(names[field.index]), field.prefix, field.suffix)
        for name, field in (
            ("output", shape.output),
            ("event", shape.event),
            ("time", shape.time),
        )
    }
    if any(v is None for v in inner.values()):
        return None
    try:
        times = pc.cast(inner["time"], pa.timestamp("us", "UTC"))
        predictions = pc.cast(inner["output"], pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    middle = [table.column(names[i]) for i in range(shape.first.index + 1, last)]
    events = inner["event"]
    return OwnLines(
        times=times,
        values=[first, *middle, final],
        predictions=predictions,
        events=events.combine_chunks() if isinstance(events, pa.ChunkedArray) else events,
    )


def _inner(values: pa.ChunkedArray, prefix: str, suffix: str) -> pa.ChunkedArray | pa.Array | None:
    """The text of each field between ``prefix`` and ``suffix`` (None if a field lacks
    them)."""
    if prefix and not pc.all(pc.starts_with(values, prefix)).as_py():
        return None
    if suffix and not pc.all(pc.ends_with(values, suffix)).as_py():
        return None
    if not prefix and not suffix:
        return values
    stop = -len(suffix) if suffix else None
    return pc.utf8_slice_codeunits(values, len(prefix), stop)
