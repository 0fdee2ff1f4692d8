"""Column statistics agree with pandas (and numpy for histograms) on the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opensage
from opensage.datasets.statistics import HISTOGRAM_BINS, QUANTILES


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 5_000
    hours = rng.lognormal(3, 0.7, n)
    hours[rng.choice(n, 250, replace=False)] = np.nan
    return pd.DataFrame(
        {
            "hours": hours,
            "tests": rng.integers(-5, 40, n),
            "track": pd.Series(
                rng.choice(["cloud", "data", "ml", None], n, p=[0.5, 0.3, 0.15, 0.05])
            ),
            "passed": rng.random(n) > 0.3,
        }
    )


def test_numeric_statistics_match_pandas(
    client: opensage.Client, tmp_path: Path, frame: pd.DataFrame
) -> None:
    path = tmp_path / "stats.csv"
    frame.to_csv(path, index=False)
    stats = {c.name: c for c in client.datasets.create(path, name="stats").stats().columns}

    for name in ("hours", "tests"):
        expected = frame[name]
        got = stats[name]
        assert got.count == expected.count()
        assert got.missing == expected.isna().sum()
        assert got.mean == pytest.approx(expected.mean(), rel=1e-9)
        assert got.std == pytest.approx(expected.std(), rel=1e-9)
        assert got.min == pytest.approx(expected.min())
        assert got.max == pytest.approx(expected.max())
        assert got.distinct == expected.nunique()
        assert got.quantiles is not None
        for q in QUANTILES:
            assert got.quantiles[str(q)] == pytest.approx(expected.quantile(q), rel=1e-9)
        counts, edges = np.histogram(expected.dropna(), bins=HISTOGRAM_BINS)
        assert got.histogram is not None
        assert got.histogram.counts == counts.tolist()
        assert got.histogram.edges == pytest.approx(edges.tolist())
        assert sum(got.histogram.counts) == got.count


def test_categorical_statistics_match_pandas(
    client: opensage.Client, tmp_path: Path, frame: pd.DataFrame
) -> None:
    path = tmp_path / "stats.csv"
    frame.to_csv(path, index=False)
    stats = {c.name: c for c in client.datasets.create(path, name="cats").stats().columns}

    track = stats["track"]
    expected = frame["track"]
    assert track.type == "string"
    assert (track.count, track.missing) == (expected.count(), expected.isna().sum())
    assert track.distinct == expected.nunique() == 3
    assert [(v.value, v.count) for v in track.top_values] == list(expected.value_counts().items())
    assert track.mean is None and track.histogram is None

    passed = stats["passed"]
    assert passed.type == "boolean"
    assert {v.value: v.count for v in passed.top_values} == frame["passed"].value_counts().to_dict()


def test_statistics_of_nan_in_parquet_count_as_missing(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, np.nan]})
    path = tmp_path / "nan.parquet"
    frame.to_parquet(path)
    (column,) = client.datasets.create(path, name="nan").stats().columns
    assert (column.count, column.missing, column.mean) == (2, 2, 2.0)


def test_statistics_are_stored_per_version(client: opensage.Client, tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("x\n1\n2\n3\n")
    second.write_text("x\n10\n20\n")
    dataset = client.datasets.create(first, name="per-version")
    dataset.add_version(second)
    assert dataset.stats(version=1).columns[0].mean == 2.0
    assert dataset.stats().columns[0].mean == 15.0
    assert dataset.stats().version == 2
