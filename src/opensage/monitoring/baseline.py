"""A baseline from a dataset version: per-feature statistics, suggested constraints and a
reference sample of each feature, against which windows of traffic are compared.

The statistics (count, missing share, moments, range, quantiles, histogram edges, and the
counts of a categorical feature's values) are computed once here and stored. The
reference sample of a numeric feature is its sorted values, thinned
to ``REFERENCE_SIZE`` evenly spaced order statistics when there are more, so that a
window is compared to the whole distribution without reading the dataset again.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opensage.errors import InvalidInput
from opensage.monitoring.schemas import Constraints, FeatureConstraint, InferredType

REFERENCE_SIZE = 10_000
MAX_CATEGORIES = 20
"""An integer or boolean feature with at most this many values is categorical."""
PREDICTION = "prediction"


def feature_types(schema: pa.Schema, features: list[str]) -> dict[str, InferredType]:
    """The inferred type of each feature; a clear error for a column an endpoint cannot
    take (endpoints take numbers) or one the dataset lacks."""
    types: dict[str, InferredType] = {}
    for name in features:
        if name not in schema.names:
            raise InvalidInput(f"the dataset has no column {name!r}", field="features")
        kind = schema.field(name).type
        if pa.types.is_boolean(kind):
            types[name] = "boolean"
        elif pa.types.is_integer(kind):
            types[name] = "integral"
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            types[name] = "fractional"
        else:
            raise InvalidInput(
                f"column {name!r} is {kind}; endpoints take numeric features only, so "
                "leave it out with features=[...]",
                field="features",
            )
    return types


def sorted_finite(values: np.ndarray) -> np.ndarray:
    """The finite values, sorted."""
    values = np.asarray(values, dtype=np.float64)
    kept: np.ndarray = values[np.isfinite(values)]  # a copy, sorted in place
    kept.sort()
    return kept


def thin(ordered: np.ndarray, size: int = REFERENCE_SIZE) -> np.ndarray:
    """At most ``size`` evenly spaced order statistics of sorted values."""
    if ordered.size <= size:
        return ordered
    positions = ((np.arange(size) + 0.5) * ordered.size / size).astype(np.int64)
    return ordered[positions]


def describe(
    name: str, kind: InferredType, values: np.ndarray
) -> tuple[dict[str, Any], np.ndarray]:
    """Statistics of one feature's values (NaN = missing) and its reference sample."""
    ordered = sorted_finite(values)
    missing = int(values.size - np.isfinite(values).sum())
    stats: dict[str, Any] = {
        "name": name,
        "inferred_type": kind,
        "count": int(ordered.size),
        "missing": missing,
        "completeness": float(ordered.size / values.size) if values.size else 1.0,
    }
    if ordered.size:
        distinct, counts = np.unique(ordered, return_counts=True)
        stats.update(
            {
                "mean": float(ordered.mean()),
                "std": float(ordered.std(ddof=1)) if ordered.size > 1 else None,
                "min": float(ordered[0]),
                "max": float(ordered[-1]),
                "distinct": int(distinct.size),
                "quantiles": {
                    str(q): float(v)
                    for q, v in zip(
                        (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
                        np.quantile(ordered, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]),
                        strict=True,
                    )
                },
                "histogram_edges": [float(e) for e in np.histogram_bin_edges(ordered, 20)],
            }
        )
        if kind in ("integral", "boolean") and distinct.size <= MAX_CATEGORIES:
            stats["categories"] = {_key(v): int(c) for v, c in zip(distinct, counts, strict=True)}
    return stats, thin(ordered)


def suggest(stats: dict[str, Any]) -> FeatureConstraint:
    """The constraint a feature's baseline statistics suggest."""
    categorical = "categories" in stats
    return FeatureConstraint(
        name=stats["name"],
        inferred_type=stats["inferred_type"],
        completeness=stats["completeness"],
        is_non_negative=bool(stats.get("min") is not None and stats["min"] >= 0),
        categorical=categorical,
        domain=sorted(float(v) for v in stats["categories"]) if categorical else None,
    )


def compute_baseline(
    path: Path, features: list[str] | None, label: str | None
) -> tuple[list[str], dict[str, Any], Constraints, bytes]:
    """Features, statistics, suggested constraints and the reference samples (Parquet
    bytes) of the Parquet file at ``path``."""
    schema = pq.read_schema(path)
    if features is None:
        features = [n for n in schema.names if n != label]
    if not features:
        raise InvalidInput("the baseline needs at least one feature", field="features")
    types = feature_types(schema, features)
    parquet = pq.ParquetFile(path)
    described: dict[str, Any] = {}
    references: dict[str, np.ndarray] = {}
    for name in features:
        column = parquet.read(columns=[name]).column(0)
        described[name], references[name] = describe(name, types[name], _as_floats(column))
    constraints = Constraints(features=[suggest(described[n]) for n in features])
    return features, {"features": described}, constraints, reference_bytes(references)


def reference_bytes(references: dict[str, np.ndarray]) -> bytes:
    """Reference samples as a Parquet file: one row per feature, its sorted values."""
    table = pa.table(
        {
            "feature": pa.array(list(references), pa.string()),
            "values": pa.array([r.tolist() for r in references.values()], pa.list_(pa.float64())),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def read_references(data: bytes) -> dict[str, np.ndarray]:
    table = pq.read_table(io.BytesIO(data))
    names = table.column("feature").to_pylist()
    values = table.column("values").to_pylist()
    return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, values, strict=True)}


def _as_floats(column: pa.ChunkedArray) -> np.ndarray:
    values = pc.fill_null(column.cast(pa.float64()), np.nan)
    return np.asarray(values.to_numpy(), dtype=np.float64)


def _key(value: float) -> str:
    """A category's key: its number as text, without a needless ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
