"""Request bodies to feature arrays and predictions to response bodies, without pandas.

Content types as SageMaker's runtime takes them: ``text/csv`` (rows, no header),
``application/json`` (``{"instances": [...]}`` of lists or of objects keyed by feature
name, or a bare list) and ``application/jsonlines`` (one row per line). ``Accept``
chooses the response type (default: the request's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
CONTENT_TYPES = (CSV, JSON, JSONLINES)
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES}


class PayloadError(Exception):
    """A request the model cannot take: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type / Accept value (lower case, no parameters)."""
    value = (header or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value)


def response_type(accept: str | None, request_type: str) -> str:
    """The response content type for an ``Accept`` header (first supported one wins)."""
    if not accept or accept.strip() in ("*/*", ""):
        return request_type
    for part in accept.split(","):
        kind = media_type(part)
        if kind in CONTENT_TYPES:
            return kind
        if kind in ("*/*", "application/*"):
            return request_type
    raise PayloadError(
        406, "not_acceptable", f"cannot answer with {accept!r}; use one of {list(CONTENT_TYPES)}"
    )


def parse(body: bytes, content_type: str | None, feature_names: Sequence[str] | None) -> np.ndarray:
    """The rows of a request body as a 2-D float64 array, checked against the features."""
    kind = media_type(content_type)
    if not body.strip():
        raise PayloadError(400, "empty_body", "the request body is empty")
    if kind == CSV:
        rows = _csv_rows(body)
    elif kind == JSON:
        rows = _json_rows(_loads(body), feature_names)
    elif kind == JSONLINES:
        rows = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                rows.extend(_json_rows(_loads(line, f"line {number}"), feature_names))
    else:
        raise PayloadError(
            415,
            "unsupported_media_type",
            f"content type {content_type!r} is not supported; use one of {list(CONTENT_TYPES)}",
        )
    return _matrix(rows, feature_names)


def _loads(data: bytes, where: str = "the body") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, "invalid_json", f"{where} is not valid JSON: {exc}") from None


def _csv_rows(body: bytes) -> list[list[Any]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(400, "invalid_csv", "the CSV body is not UTF-8 text") from None
    return [line.split(",") for line in text.splitlines() if line.strip()]


def _json_rows(value: Any, feature_names: Sequence[str] | None) -> list[Any]:
    if isinstance(value, dict):
        if "instances" in value:
            value = value["instances"]
        elif "features" in value:  # one jsonlines record: {"features": [...]}
            value = [value["features"]]
        else:
            value = [value]  # one object keyed by feature name
    if not isinstance(value, list):
        raise PayloadError(400, "invalid_instances", 'send {"instances": [...]} or a list of rows')
    if value and not isinstance(value[0], list | dict):
        value = [value]  # a bare single row: [1.0, 2.0]
    rows = []
    for number, row in enumerate(value):
        if isinstance(row, dict):
            if not feature_names:
                raise PayloadError(400, "named_features", "this model takes rows as lists")
            unknown = sorted(set(row) - set(feature_names))
            missing = [name for name in feature_names if name not in row]
            if unknown or missing:
                raise PayloadError(
                    400,
                    "feature_names",
                    f"row {number}: unknown features {unknown}, missing {missing}; "
                    f"the model takes {list(feature_names)}",
                )
            rows.append([row[name] for name in feature_names])
        elif isinstance(row, list):
            rows.append(row)
        else:
            raise PayloadError(400, "invalid_instances", f"row {number} is not a list or object")
    return rows


def _matrix(rows: list[Any], feature_names: Sequence[str] | None) -> np.ndarray:
    if not rows:
        raise PayloadError(400, "no_rows", "the request has no rows")
    width = len(rows[0])
    for number, row in enumerate(rows):
        if len(row) != width or (feature_names and len(row) != len(feature_names)):
            expected = len(feature_names) if feature_names else width
            raise PayloadError(
                400,
                "feature_count",
                f"row {number} has {len(row)} values; the model takes {expected} features",
            )
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        matrix = np.empty((len(rows), width))
        for number, row in enumerate(rows):
            for column, item in enumerate(row):
                matrix[number, column] = _number(item, number, column, feature_names)
    return matrix


def _number(item: Any, row: int, column: int, feature_names: Sequence[str] | None) -> float:
    if item is None or (isinstance(item, str) and item.strip() == ""):
        return math.nan
    try:
        if isinstance(item, bool):
            raise TypeError
        return float(item)
    except (TypeError, ValueError):
        name = feature_names[column] if feature_names else f"column {column}"
        raise PayloadError(
            400, "not_numeric", f"row {row}, feature {name!r}: {item!r} is not a number"
        ) from None


def render(predictions: np.ndarray, kind: str) -> bytes:
    """The response body for ``predictions`` (one per row; a row of values per class)."""
    values = np.asarray(predictions)
    if kind == CSV:
        if values.ndim == 1:
            return ("\n".join(repr(float(v)) for v in values) + "\n").encode()
        return ("\n".join(",".join(repr(float(v)) for v in row) for row in values) + "\n").encode()
    listed = values.tolist()
    if kind == JSONLINES:
        return b"".join(orjson.dumps({"prediction": item}) + b"\n" for item in listed)
    return orjson.dumps({"predictions": listed})
