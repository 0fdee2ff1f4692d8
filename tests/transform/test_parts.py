"""Cutting files into parts and reading them back: every record once, in order, counted."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from opensage.transform import parts as parts_module
from opensage.transform.layout import FeatureLayout
from opensage.transform.parts import PartSizes, byte_sizes, plan_lines, plan_parquet, row_sizes
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


@pytest.mark.parametrize(
    ("size", "stops"),
    [
        (130, [100, 200, 300, 400, 500]),  # the nearest row group end, 30 rows off
        (160, [200, 400, 500]),  # the next one, 40 rows off
        (40, [40, 100, 140, 200, 240, 300, 340, 400, 440, 500]),  # 60 off: cut inside
    ],
)
def test_parquet_parts_end_with_a_row_group_within_half_their_size(
    tmp_path: Path, size: int, stops: list[int]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": np.arange(500.0)}), path, row_group_size=100)
    parts = plan_parquet(path, "rows", size, 0)
    assert [p.stop for p in parts] == stops
    assert [p.start for p in parts] == [0, *stops[:-1]]
    assert [p.rows for p in parts] == [p.stop - p.start for p in parts]


def test_a_record_across_lines_is_reported(tmp_path: Path) -> None:
    """With split_type Line every line is a record: a quoted line break splits one."""
    path = tmp_path / "quoted.csv"
    path.write_text('1,2\n"3\n4",5\n')
    (part,) = plan_lines(path, "quoted.csv", "csv", 10**6, 0)
    assert part.rows == 3
    with pytest.raises(RecordError, match=r"quoted.csv, row 2: has 1 values"):
        list(read_part(part, FeatureLayout(columns=("a", "b")), 10, keep_columns=False))


def _sizes(sizes: PartSizes) -> list[int]:
    taken = []
    while sizes.left:
        taken.append(min(sizes.left, sizes.next()))
        sizes.taken(taken[-1])
    return taken


def test_guided_parts_shrink_so_that_workers_end_together() -> None:
    sizes = _sizes(row_sizes(1_000_000, 2, 50_000))
    assert sum(sizes) == 1_000_000
    assert sizes[0] == 250_000  # a quarter of the work left, with two workers
    assert sizes == sorted(sizes, reverse=True)
    assert max(sizes[-3:]) <= 31_250  # the tail: 1/16 of a worker's share
    assert len(sizes) < 20


def test_guided_parts_never_exceed_the_batch_size_at_the_end() -> None:
    sizes = _sizes(row_sizes(1_000_000, 2, 1000))
    assert sizes[-1] <= 1000
    assert sizes[-2] == 1000


def test_guided_line_parts_stay_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts_module, "MAX_PART_BYTES", 100 << 20)
    sizes = _sizes(byte_sizes(2 << 30, 4))
    assert max(sizes) == 100 << 20
    assert min(sizes[:-1]) >= (2 << 30) // 64
    assert sum(sizes) == 2 << 30


def test_guided_parquet_parts_cover_every_row_once(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = np.arange(5000, dtype=np.float64)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": values}), path, row_group_size=700)
    parts = plan_parquet(path, "rows", row_sizes(5000, 3, 100), 0)
    assert parts[0].rows == max(p.rows for p in parts)
    assert parts[-1].rows <= 100 < parts[0].rows
    layout = FeatureLayout(columns=("x",))
    got = [b.features for p in parts for b in read_part(p, layout, 64, keep_columns=False)]
    np.testing.assert_array_equal(np.vstack(got)[:, 0], values)


def test_guided_csv_parts_cover_every_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts_module, "MIN_PART_BYTES", 1)
    rng = np.random.default_rng(5)
    rows = rng.uniform(-5, 5, (2000, 3))
    path = tmp_path / "rows.csv"
    path.write_text(_csv_text(rows, rng))
    parts = plan_lines(path, "rows.csv", "csv", byte_sizes(path.stat().st_size, 2), 0)
    sizes = [p.stop - p.start for p in parts]
    assert len(parts) > 10
    assert sizes[0] > 3 * sizes[-2]  # large first, small last
    layout = FeatureLayout(columns=("a", "b", "c"))
    got = [b.features for p in parts for b in read_part(p, layout, 100, keep_columns=False)]
    np.testing.assert_array_equal(np.vstack(got), rows)
    assert [p.first_row for p in parts] == np.cumsum([0] + [p.rows for p in parts[:-1]]).tolist()
