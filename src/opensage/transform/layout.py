"""Which input columns feed the model's features, in the model's order.

A model that declares its feature names (every built-in does) takes input columns by
name; extra columns are not features (they can be joined to the output), the label
column never is. A model trained on SageMaker CSV has positional names (``f0``, ``f1``
...), so it takes any input's columns (but the label) by position when the widths agree.
Headerless CSV files (SageMaker's ``text/csv``) hold the features only, in order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from opensage.errors import InvalidInput

NUMERIC_TYPES = frozenset({"integer", "float", "boolean"})
LIST_COLUMN = "features"
PREVIEW_BYTES = 1 << 20


@dataclass(frozen=True)
class FeatureLayout:
    """How to cut a feature matrix out of input records.

    ``columns`` names the input columns of the features, in the model's order; for JSON
    Lines records of the form ``{"features": [...]}``, ``list_column`` is that key and
    ``width`` the number of values each list must hold.
    """

    columns: tuple[str, ...] = ()
    list_column: str | None = None
    width: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureLayout:
        return cls(
            columns=tuple(data.get("columns") or ()),
            list_column=data.get("list_column"),
            width=data.get("width"),
        )


def is_positional(names: Sequence[str]) -> bool:
    """Whether feature names are the ones a headerless CSV gets (``f0``, ``f1`` ...)."""
    return bool(names) and list(names) == [f"f{i}" for i in range(len(names))]


def table_layout(
    model_features: Sequence[str] | None,
    column_types: Mapping[str, str],
    label: str | None,
    *,
    where: str,
) -> FeatureLayout:
    """The features of named, typed columns (a dataset or Parquet / JSON Lines records).

    ``column_types`` maps each input column to its logical type (integer, float, boolean,
    string ...); a feature column must be numeric.
    """
    available = [name for name in column_types if name != label]
    if model_features:
        missing = [name for name in model_features if name not in column_types]
        if not missing:
            columns = list(model_features)
        elif is_positional(model_features) and len(available) == len(model_features):
            columns = available
        else:
            raise InvalidInput(
                f"{where} lacks the model's feature column(s) {missing}; the model takes "
                f"{list(model_features)}, the input has {list(column_types)}",
                field="input",
            )
    else:
        columns = available
        if not columns:
            raise InvalidInput(f"{where} has no feature columns", field="input")
    for name in columns:
        kind = column_types[name]
        if kind not in NUMERIC_TYPES:
            raise InvalidInput(
                f"{where}: feature {name!r} is {kind}, but models take numbers; encode it "
                "in the dataset (e.g. one-hot) first",
                field="input",
            )
    return FeatureLayout(columns=tuple(columns))


def csv_layout(model_features: Sequence[str] | None, width: int, *, where: str) -> FeatureLayout:
    """The features of headerless CSV rows ``width`` values wide: all of them, in order."""
    if model_features and width != len(model_features):
        raise InvalidInput(
            f"{where} has {width} values per row, but the model takes {len(model_features)} "
            f"features {list(model_features)}; text/csv input has no header row and holds "
            "the features only, in that order",
            field="input",
        )
    names = list(model_features) if model_features else [f"f{i}" for i in range(width)]
    return FeatureLayout(columns=tuple(names))


def json_layout(
    model_features: Sequence[str] | None, record: Mapping[str, Any], *, where: str
) -> FeatureLayout:
    """The features of JSON Lines records shaped like ``record`` (the file's first one)."""
    values = record.get(LIST_COLUMN)
    if isinstance(values, list) and not (model_features and LIST_COLUMN in model_features):
        if model_features and len(values) != len(model_features):
            raise InvalidInput(
                f"{where}: {LIST_COLUMN!r} holds {len(values)} values, but the model takes "
                f"{len(model_features)} features {list(model_features)}",
                field="input",
            )
        return FeatureLayout(list_column=LIST_COLUMN, width=len(values))
    types = {key: _json_type(value) for key, value in record.items()}
    return table_layout(model_features, types, None, where=where)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float) or value is None:
        return "float"
    return "string"


def first_line(head: bytes) -> bytes | None:
    """The first non-blank line of a file's first bytes (None if there is none)."""
    for line in head.splitlines():
        if line.strip():
            return line
    return None


def csv_width(line: bytes, *, where: str) -> int:
    """How many values a CSV line holds."""
    try:
        row = next(csv.reader(io.StringIO(line.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        raise InvalidInput(f"{where} is not UTF-8 CSV: {exc}", field="input") from None
    return len(row)


def json_record(line: bytes, *, where: str) -> dict[str, Any]:
    """A JSON Lines line as an object."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{where} is not JSON Lines: {exc}", field="input") from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{where}: each line must be a JSON object keyed by feature name "
            f'(or {{"{LIST_COLUMN}": [...]}}), not {type(value).__name__}',
            field="input",
        )
    return value
