"""Cutting files into parts and reading them back: every record once, in order, counted."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from opensage.transform import parts as parts_module
from opensage.transform.layout import FeatureLayout
from opensage.transform.parts import plan_lines, plan_parquet
from opensage.transform.records import RecordError, read_part


def _csv_text(rows: np.ndarray, rng: np.random.Generator) -> str:
    """CSV lines with blank lines, CRLF endings here and there, no final newline."""
    lines = []
    for row in rows:
        lines.append(",".join(repr(float(v)) for v in row) + ("\r" if rng.random() < 0.2 else ""))
        if rng.random() < 0.1:
            lines.append("" if rng.random() < 0.5 else "\r")
    return "\n".join(lines)


@pytest.mark.parametrize("target_bytes", [1, 100, 1000, 10**6])
@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_csv_parts_cover_every_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target_bytes: int, batch_size: int
) -> None:
    monkeypatch.setattr(parts_module, "SCAN_BYTES", 64)  # lines straddle scan chunks
    rng = np.random.default_rng(target_bytes + batch_size)
    rows = rng.uniform(-5, 5, (300, 3))
    path = tmp_path / "rows.csv"
    path.write_text("\n\n" + _csv_text(rows, rng))
    layout = FeatureLayout(columns=("a", "b", "c"))
    parts = plan_lines(path, "rows.csv", "csv", target_bytes, 0)
    assert sum(p.rows for p in parts) == 300
    assert [p.index for p in parts] == list(range(len(parts)))
    assert all(a.stop <= b.start for a, b in itertools.pairwise(parts))
    read, first_rows = [], []
    for part in parts:
        first_rows.append(part.first_row)
        for batch in read_part(part, layout, batch_size, keep_columns=False):
            assert batch.features.shape[0] <= batch_size
            read.append(batch.features)
    np.testing.assert_array_equal(np.vstack(read), rows)
    expected_first = np.cumsum([0] + [p.rows for p in parts[:-1]]).tolist()
    assert first_rows == expected_first


def test_parquet_parts_slice_row_groups(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = np.arange(1000, dtype=np.float64)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": values, "y": -values}), path, row_group_size=90)
    parts = plan_parquet(path, "rows", 130, 0)
    layout = FeatureLayout(columns=("y", "x"))
    got = [
        batch.features
        for part in parts
        for batch in read_part(part, layout, 40, keep_columns=False)
    ]
    np.testing.assert_array_equal(np.vstack(got), np.column_stack([-values, values]))


def test_a_record_across_lines_is_reported(tmp_path: Path) -> None:
    """With split_type Line every line is a record: a quoted line break splits one."""
    path = tmp_path / "quoted.csv"
    path.write_text('1,2\n"3\n4",5\n')
    (part,) = plan_lines(path, "quoted.csv", "csv", 10**6, 0)
    assert part.rows == 3
    with pytest.raises(RecordError, match=r"quoted.csv, row 2: has 1 values"):
        list(read_part(part, FeatureLayout(columns=("a", "b")), 10, keep_columns=False))
