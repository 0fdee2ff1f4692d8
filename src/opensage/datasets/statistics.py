"""Per-column statistics of a Parquet file, computed one column at a time.

Only one column is in memory at once, so a dataset wider than memory allows is fine as
long as each column fits. The numbers follow pandas' conventions (sample standard
deviation, linear-interpolated quantiles, missing values excluded) so that they can be
checked against it, and they later serve as the monitoring baseline.
"""

from __future__ import annotations

import math
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opensage.datasets.ingest import logical_type

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_VALUES = 10


def compute_statistics(source: IO[bytes] | str, *, filesystem: Any = None) -> list[dict[str, Any]]:
    """Statistics of every column of the Parquet file at ``source``."""
    parquet = pq.ParquetFile(source, filesystem=filesystem)
    return [
        column_statistics(field.name, parquet.read(columns=[field.name]).column(0))
        for field in parquet.schema_arrow
    ]


def column_statistics(name: str, column: pa.ChunkedArray) -> dict[str, Any]:
    """count, missing, distinct and top values for any column; moments, quantiles and a
    histogram for numeric ones; the range for temporal ones."""
    kind = logical_type(column.type)
    if kind == "float":
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    total = len(column)
    missing = column.null_count
    stats: dict[str, Any] = {
        "name": name,
        "type": kind,
        "count": total - missing,
        "missing": missing,
        "distinct": pc.count_distinct(column, mode="only_valid").as_py(),
        "top_values": _top_values(column),
    }
    if kind in ("integer", "float") and stats["count"] > 0:
        stats.update(_numeric(column))
    elif kind in ("timestamp", "date") and stats["count"] > 0:
        bounds = pc.min_max(column)
        stats["min"] = bounds["min"].as_py().isoformat()
        stats["max"] = bounds["max"].as_py().isoformat()
    return stats


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    values = column.drop_null().to_numpy().astype(np.float64, copy=False)
    quantiles = pc.quantile(pa.array(values), q=list(QUANTILES), interpolation="linear")
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    std = float(np.std(values, ddof=1)) if values.size > 1 else None
    return {
        "mean": _finite(float(np.mean(values))),
        "std": _finite(std),
        "min": _finite(float(values.min())),
        "max": _finite(float(values.max())),
        "quantiles": {
            str(q): _finite(v) for q, v in zip(QUANTILES, quantiles.to_pylist(), strict=True)
        },
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def _top_values(column: pa.ChunkedArray) -> list[dict[str, Any]]:
    counted = pc.value_counts(column.drop_null())
    if len(counted) == 0:
        return []
    values = counted.field("values")
    counts = counted.field("counts")
    order = pc.select_k_unstable(
        pa.table({"values": values, "counts": counts}),
        k=min(TOP_VALUES, len(counted)),
        sort_keys=[("counts", "descending")],
    )
    top = [(values[i].as_py(), counts[i].as_py()) for i in order.to_pylist()]
    top.sort(key=lambda item: (-item[1], str(item[0])))
    return [{"value": _jsonable(v), "count": c} for v, c in top]


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
