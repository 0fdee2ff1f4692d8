"""Statistics from the rows a conversion kept in memory are those of the file it wrote;
a file whose rows do not fit keeps none and its statistics come from reading it back."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import opensage
from opensage.datasets import ingest, service
from opensage.datasets.ingest import KeptRows, convert_to_parquet
from opensage.datasets.statistics import compute_statistics, table_statistics


def mixed_csv(rows: int = 20_000) -> bytes:
    rng = np.random.default_rng(5)
    score = rng.normal(500.0, 120.0, rows)
    score[rng.choice(rows, 300, replace=False)] = np.nan
    score[:3] = [np.inf, -np.inf, 0.0]
    frame = pd.DataFrame(
        {
            "score": score,
            "count": pd.array(rng.integers(0, 50, rows), dtype="Int64"),
            "track": rng.choice(["cloud", "data", "ml", ""], rows),
            "passed": rng.random(rows) > 0.4,
            "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, rows), "D"),
            "ties": rng.integers(0, 4, rows).astype(float),
        }
    )
    frame.loc[frame.sample(frac=0.05, random_state=1).index, "count"] = pd.NA
    return frame.to_csv(index=False).encode()


def convert(csv: bytes, target: Path, keep: KeptRows | None) -> int:
    with open(target, "wb") as out:
        return convert_to_parquet(io.BytesIO(csv), "csv", out, keep=keep).num_rows


def test_rows_that_fit_are_described_from_memory_as_from_the_file(tmp_path: Path) -> None:
    kept = KeptRows()
    rows = convert(mixed_csv(), tmp_path / "kept.parquet", kept)
    table = kept.table(pq.read_schema(tmp_path / "kept.parquet"))
    assert rows == 20_000 and table is not None and table.num_rows == rows
    assert table_statistics(table) == compute_statistics(str(tmp_path / "kept.parquet"))
    convert(mixed_csv(), tmp_path / "plain.parquet", None)
    assert pq.read_table(tmp_path / "kept.parquet").equals(
        pq.read_table(tmp_path / "plain.parquet")
    )


def test_rows_past_the_limit_are_not_kept(tmp_path: Path) -> None:
    kept = KeptRows(limit=64 * 1024)
    convert(mixed_csv(), tmp_path / "streamed.parquet", kept)
    assert kept.overflowed
    assert kept.table(pq.read_schema(tmp_path / "streamed.parquet")) is None
    convert(mixed_csv(), tmp_path / "plain.parquet", None)
    assert pq.read_table(tmp_path / "streamed.parquet").equals(
        pq.read_table(tmp_path / "plain.parquet")
    )


def test_a_dataset_too_large_to_keep_gets_the_same_statistics(
    client: opensage.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed_csv())
    reads: list[object] = []

    def read_back(source: object, **options: object) -> list[dict[str, object]]:
        reads.append(source)
        return compute_statistics(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "compute_statistics", read_back)
    kept_stats = client.datasets.create(path, name="kept").stats()
    assert reads == []
    monkeypatch.setattr(ingest, "KEEP_BYTES", 0)
    read_stats = client.datasets.create(path, name="read-back").stats()
    assert len(reads) == 1
    assert read_stats.model_dump()["columns"] == kept_stats.model_dump()["columns"]


def test_only_plain_files_of_known_small_size_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(mixed_csv(2_000))
    packed = tmp_path / "packed.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pa.OSFile(str(plain), "rb") as handle:
        assert ingest.rows_to_keep(handle).limit == ingest.KEEP_BYTES
    with gzip.open(packed, "rb") as handle:  # decompressed on the fly: size unknown
        assert ingest.rows_to_keep(handle).limit == 0
    monkeypatch.setattr(ingest, "KEEP_BYTES", plain.stat().st_size - 1)
    with pa.OSFile(str(plain), "rb") as handle:
        assert ingest.rows_to_keep(handle).limit == 0
