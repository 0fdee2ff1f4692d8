"""Column statistics of awkward data: infinities, huge integers, empty and constant columns,
booleans, dates, empty strings, ties. Every number is checked against pandas (and numpy
for histograms) on the same data; JSON cannot hold inf or NaN, so where pandas gives one
of those the statistics hold null."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import opensage
from opensage.datasets import statistics
from opensage.datasets.schemas import ColumnStatistics
from opensage.datasets.statistics import _FIRST_SCAN, HISTOGRAM_BINS, QUANTILES, TOP_VALUES

INF = math.inf


def _stats(
    client: opensage.Client, tmp_path: Path, data: pd.DataFrame | pa.Table, name: str
) -> tuple[dict[str, ColumnStatistics], pd.DataFrame]:
    """Create a dataset from ``data`` (as Parquet); its statistics by column, and the stored
    data as pandas reads it."""
    path = tmp_path / f"{name}.parquet"
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    pq.write_table(table, path)
    dataset = client.datasets.create(path, name=name)
    return {c.name: c for c in dataset.stats().columns}, dataset.to_pandas()


def _csv_stats(
    client: opensage.Client, tmp_path: Path, text: str, name: str
) -> tuple[dict[str, ColumnStatistics], pd.DataFrame]:
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    dataset = client.datasets.create(path, name=name)
    return {c.name: c for c in dataset.stats().columns}, dataset.to_pandas()


def _json(value: Any) -> Any:
    """A pandas value as the statistics hold it."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _close(value: Any, rel: float = 1e-12, scale: float = 0.0) -> Any:
    """What a statistic must be for pandas' ``value``: null where it is not finite; else
    within ``rel`` of it, or ``rel * scale`` of it where it is about 0."""
    value = _json(value)
    if value is None or isinstance(value, str):
        return value
    return pytest.approx(value, rel=rel, abs=rel * scale)


def _top(series: pd.Series) -> list[tuple[Any, int]]:
    return [(_json(v), int(c)) for v, c in series.value_counts().head(TOP_VALUES).items()]


def assert_like_pandas(got: ColumnStatistics, series: pd.Series, *, numeric: bool) -> None:
    """Every statistic of ``got`` against pandas (and numpy's histogram) on ``series``."""
    assert got.count == series.count()
    assert got.missing == series.isna().sum()
    assert got.distinct == series.nunique()
    assert [(v.value, v.count) for v in got.top_values] == _top(series)
    if not numeric:
        assert got.mean is None and got.std is None and got.quantiles is None
        assert got.histogram is None
        return
    # Moments: summed in another order than pandas sums them, so not to the last bit.
    scale = float(series.abs().max()) if got.count else 0.0
    assert got.mean == _close(series.mean(), 1e-9, scale)
    assert got.std == _close(series.std(), 1e-9, scale)
    assert got.min == _close(series.min())
    assert got.max == _close(series.max())
    assert got.quantiles is not None
    expected_quantiles = series.quantile(list(QUANTILES))
    for q in QUANTILES:
        assert got.quantiles[str(q)] == _close(expected_quantiles[q]), q
    values = series.dropna().to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        assert got.histogram is None
        return
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    assert got.histogram is not None
    assert got.histogram.counts == counts.tolist()
    assert got.histogram.edges == pytest.approx(edges.tolist(), rel=1e-12)


# -- infinities ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pandas' own inf - inf
def test_infinite_values_are_counted_and_the_histogram_covers_the_finite_ones(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {
            "both": [1.0, INF, -INF, 2.0, np.nan, 3.5, INF, 0.25],
            "plus": [1.0, 2.0, 3.0, INF, 4.0, 5.0, np.nan, 6.0],
            "only": [INF, INF, -INF, np.nan, INF, np.nan, INF, -INF],
        }
    )
    stats, stored = _stats(client, tmp_path, frame, "infinite")

    for name in frame:
        assert_like_pandas(stats[name], stored[name], numeric=True)
    both, plus, only = stats["both"], stats["plus"], stats["only"]
    assert (both.count, both.missing, both.infinite, both.distinct) == (7, 1, 3, 6)
    assert (both.mean, both.std, both.min, both.max) == (None, None, None, None)
    assert both.histogram is not None and both.histogram.counts[0] == 1
    assert both.histogram.edges[0] == 0.25 and both.histogram.edges[-1] == 3.5
    assert sum(both.histogram.counts) == both.count - both.infinite == 4
    assert [(v.value, v.count) for v in both.top_values][:1] == [(None, 2)]  # +inf
    # The median of [-inf, 0.25, 1, 2, 3.5, inf, inf] is 2; the outer quantiles are
    # infinite or, between inf and inf, undefined.
    assert both.quantiles is not None and both.quantiles["0.5"] == 2.0
    assert both.quantiles["0.01"] is None and both.quantiles["0.99"] is None

    assert (plus.infinite, plus.min, plus.max, plus.mean, plus.std) == (1, 1.0, None, None, None)
    assert plus.quantiles is not None and plus.quantiles["0.25"] == 2.5
    assert plus.histogram is not None and sum(plus.histogram.counts) == 6

    assert (only.count, only.infinite, only.distinct) == (6, 6, 2)
    assert only.histogram is None and only.min is None and only.max is None
    assert only.quantiles is not None and set(only.quantiles.values()) == {None}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pandas' own inf - inf
def test_infinite_values_in_a_csv(client: opensage.Client, tmp_path: Path) -> None:
    text = "x,n\n1.5,1\ninf,2\n-inf,3\n2,4\n,5\n-0.5,6\n"
    stats, stored = _csv_stats(client, tmp_path, text, "infinite-csv")

    assert stored["x"].tolist()[:3] == [1.5, INF, -INF]
    assert_like_pandas(stats["x"], stored["x"], numeric=True)
    assert stats["x"].infinite == 2 and stats["n"].infinite is None
    assert (stats["x"].count, stats["x"].missing) == (5, 1)
    assert stats["x"].histogram is not None
    assert stats["x"].histogram.edges[0] == -0.5 and stats["x"].histogram.edges[-1] == 2.0


def test_finite_floats_have_no_infinite_values(client: opensage.Client, tmp_path: Path) -> None:
    stats, _ = _csv_stats(client, tmp_path, "x,s\n1.5,a\n,b\n", "finite")
    assert stats["x"].infinite == 0
    assert stats["s"].infinite is None


# -- huge integers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [2**62 + i for i in (0, 1, 2, 3, 2, 1, 0)],
        [2**63 - 1, 2**63 - 2, 2**63 - 1, 2**63 - 5],
        [-(2**63), -(2**63) + 7],
    ],
    ids=["2**62", "2**63-1", "-2**63"],
)
def test_integers_too_close_for_floats_get_one_bin(
    client: opensage.Client, tmp_path: Path, values: list[int]
) -> None:
    array = np.array(values, dtype=np.int64)
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(array, bins=HISTOGRAM_BINS)  # what used to make the creation fail
    stats, stored = _stats(client, tmp_path, pd.DataFrame({"id": array}), "huge")
    got = stats["id"]

    assert got.type == "integer"
    assert (got.count, got.distinct) == (len(values), len(set(values)))
    assert [(v.value, v.count) for v in got.top_values] == _top(stored["id"])
    assert all(isinstance(v.value, int) for v in got.top_values)  # exact, not rounded
    assert got.mean == _close(stored["id"].mean())
    assert got.std == _close(stored["id"].std())
    assert got.min == float(min(values)) and got.max == float(max(values))
    assert got.quantiles is not None
    for q in QUANTILES:
        assert got.quantiles[str(q)] == _close(stored["id"].quantile(q))
    assert got.histogram is not None
    assert got.histogram.edges == [float(min(values))] * 2
    assert got.histogram.counts == [len(values)]


def test_a_range_a_few_float_steps_wide_gets_one_bin(
    client: opensage.Client, tmp_path: Path
) -> None:
    # 2**62 and 2**62 + 4096 are 4 float64 steps apart: 20 bins do not fit between them.
    values = np.array([2**62, 2**62 + 4096, 2**62 + 2048, 2**62], dtype=np.int64)
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(values, bins=HISTOGRAM_BINS)
    stats, _ = _stats(client, tmp_path, pd.DataFrame({"id": values}), "few-steps")
    histogram = stats["id"].histogram
    assert histogram is not None
    assert histogram.edges == [float(2**62), float(2**62 + 4096)]
    assert histogram.counts == [4]


def test_floats_spanning_more_than_float64_range_get_one_bin(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"x": [-1e308, 1e308, 0.0]})
    stats, stored = _stats(client, tmp_path, frame, "wide")
    got = stats["x"]
    assert (got.min, got.max, got.count) == (-1e308, 1e308, 3)
    assert got.quantiles is not None and got.quantiles["0.5"] == 0.0
    assert got.mean == _close(stored["x"].mean())
    assert got.std is None  # pandas: inf
    assert got.histogram is not None
    assert got.histogram.edges == [-1e308, 1e308] and got.histogram.counts == [3]


# -- empty, single and constant columns ----------------------------------------------------


def test_all_missing_columns(client: opensage.Client, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x": [np.nan, np.nan, np.nan],
            "s": pd.Series([None, None, None], dtype=object),
            "n": pd.array([None, None, None], dtype="Int64"),
            "id": [1, 2, 3],
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column("null", pa.nulls(3))
    stats, stored = _stats(client, tmp_path, table, "all-missing")

    for name in ("x", "s", "n", "null"):
        got = stats[name]
        assert (got.count, got.missing, got.distinct, got.top_values) == (0, 3, 0, [])
        assert got.mean is None and got.std is None and got.min is None and got.max is None
        assert got.quantiles is None and got.histogram is None
        assert got.count == stored[name].count() and got.distinct == stored[name].nunique()
    assert stats["x"].infinite == 0
    assert stats["n"].type == "integer"
    assert stats["null"].type == "unknown"


def test_all_missing_csv_column(client: opensage.Client, tmp_path: Path) -> None:
    stats, stored = _csv_stats(client, tmp_path, "a,b,c\n1,,\n2,,\n3,,\n", "empty-csv")
    for name in ("b", "c"):
        assert (stats[name].count, stats[name].missing, stats[name].distinct) == (0, 3, 0)
        assert stored[name].isna().all()
    assert_like_pandas(stats["a"], stored["a"], numeric=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pandas' std of one value
def test_a_single_row(client: opensage.Client, tmp_path: Path) -> None:
    text = "i,f,s,b,d\n7,2.5,x,true,2024-01-02\n"
    stats, stored = _csv_stats(client, tmp_path, text, "one-row")

    assert [stats[n].type for n in "ifsbd"] == ["integer", "float", "string", "boolean", "date"]
    for name in ("i", "f"):
        assert_like_pandas(stats[name], stored[name], numeric=True)
        assert stats[name].std is None
        assert stats[name].quantiles is not None
        assert set(stats[name].quantiles.values()) == {float(stored[name][0])}
    counts, edges = np.histogram([7], bins=HISTOGRAM_BINS)  # from 6.5 to 7.5
    assert stats["i"].histogram is not None and stats["i"].histogram.counts == counts.tolist()
    assert stats["i"].histogram.edges == pytest.approx(edges.tolist())
    for name in ("s", "b"):
        assert_like_pandas(stats[name], stored[name], numeric=False)
    assert (stats["d"].min, stats["d"].max) == ("2024-01-02", "2024-01-02")
    assert [(v.value, v.count) for v in stats["d"].top_values] == [("2024-01-02", 1)]


def test_a_single_distinct_value(client: opensage.Client, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([42] * 40 + [None] * 10, dtype="Int64"),
            "f": [0.1] * 45 + [np.nan] * 5,
            "s": ["same"] * 50,
            "b": [True] * 50,
        }
    )
    stats, stored = _stats(client, tmp_path, frame, "constant")

    for name in ("i", "f"):
        assert_like_pandas(stats[name], stored[name], numeric=True)
        assert stats[name].std == 0.0 and stats[name].distinct == 1
        assert stats[name].min == stats[name].max
    assert stats["i"].histogram is not None and stats["i"].histogram.counts[10] == 40
    for name in ("s", "b"):
        assert_like_pandas(stats[name], stored[name], numeric=False)
    assert [(v.value, v.count) for v in stats["b"].top_values] == [(True, 50)]


# -- booleans, dates and timestamps, strings ------------------------------------------------


def test_booleans(client: opensage.Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    flags = pd.array(rng.random(300) < 0.3, dtype="boolean")
    flags[rng.choice(300, 20, replace=False)] = pd.NA
    stats, stored = _stats(client, tmp_path, pd.DataFrame({"flag": flags}), "bools")

    got = stats["flag"]
    assert got.type == "boolean"
    assert_like_pandas(got, stored["flag"], numeric=False)
    assert (got.missing, got.distinct) == (20, 2)
    assert [v.value for v in got.top_values] == [False, True]
    assert got.min is None and got.max is None


def test_dates_and_timestamps(client: opensage.Client, tmp_path: Path) -> None:
    days = [dt.date(2024, 3, 1), None, dt.date(1999, 12, 31), dt.date(2024, 3, 1)]
    moments = [
        dt.datetime(2024, 3, 1, 12, 30, 15, 250000),
        dt.datetime(2021, 1, 1),
        None,
        dt.datetime(2021, 1, 1),
    ]
    table = pa.table(
        {
            "day": pa.array(days, pa.date32()),
            "at": pa.array(moments, pa.timestamp("us")),
            "at_utc": pa.array(moments, pa.timestamp("us", tz="UTC")),
            "at_ns": pa.array(moments, pa.timestamp("ns")),
        }
    )
    stats, stored = _stats(client, tmp_path, table, "temporal")

    assert stats["day"].type == "date"
    assert {stats[n].type for n in ("at", "at_utc", "at_ns")} == {"timestamp"}
    for name in table.column_names:
        got, series = stats[name], stored[name]
        assert_like_pandas(got, series, numeric=False)
        assert got.min == _json(series.min()) and got.max == _json(series.max())
    assert (stats["day"].min, stats["day"].max) == ("1999-12-31", "2024-03-01")
    assert stats["day"].top_values[0].model_dump() == {"value": "2024-03-01", "count": 2}
    assert (stats["at"].min, stats["at"].max) == (
        "2021-01-01T00:00:00",
        "2024-03-01T12:30:15.250000",
    )
    assert stats["at_utc"].max == "2024-03-01T12:30:15.250000+00:00"
    assert stats["at_ns"].min == "2021-01-01T00:00:00"


def test_dates_and_timestamps_from_csv(client: opensage.Client, tmp_path: Path) -> None:
    text = "day,at\n2024-01-02,2024-01-02 03:04:05\n,2023-06-30T23:59:59\n2024-01-02,\n"
    stats, stored = _csv_stats(client, tmp_path, text, "temporal-csv")
    assert (stats["day"].type, stats["at"].type) == ("date", "timestamp")
    assert (stats["day"].count, stats["day"].distinct, stats["day"].missing) == (2, 1, 1)
    assert (stats["at"].min, stats["at"].max) == ("2023-06-30T23:59:59", "2024-01-02T03:04:05")
    for name in ("day", "at"):
        assert_like_pandas(stats[name], stored[name], numeric=False)


def test_empty_strings_are_values(client: opensage.Client, tmp_path: Path) -> None:
    frame = pd.DataFrame({"s": ["", "a", "", None, " ", "a", "", "é"]})
    stats, stored = _stats(client, tmp_path, frame, "empty-strings")

    got = stats["s"]
    assert_like_pandas(got, stored["s"], numeric=False)
    assert (got.count, got.missing, got.distinct) == (7, 1, 4)
    assert [(v.value, v.count) for v in got.top_values] == [("", 3), ("a", 2), (" ", 1), ("é", 1)]


def test_empty_csv_fields_are_missing_as_in_pandas(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "blanks.csv"
    path.write_text('s,n\n"",1\na,2\n,3\n" ",4\na,5\n')
    stats = {c.name: c for c in client.datasets.create(path, name="blanks").stats().columns}
    expected = pd.read_csv(path)["s"]
    assert_like_pandas(stats["s"], expected, numeric=False)
    assert (stats["s"].count, stats["s"].missing) == (3, 2)


# -- distinct values and ties ----------------------------------------------------------------


def test_negative_zero_and_zero_are_one_value(client: opensage.Client, tmp_path: Path) -> None:
    frame = pd.DataFrame({"z": [-0.0, 0.0, 0.0, -0.0, 1.0, -0.0, np.nan, 2.5]})
    stats, stored = _stats(client, tmp_path, frame, "zeros")

    got = stats["z"]
    assert_like_pandas(got, stored["z"], numeric=True)
    assert got.distinct == stored["z"].nunique() == 3
    assert [(v.value, v.count) for v in got.top_values] == [(0.0, 5), (1.0, 1), (2.5, 1)]
    assert got.min == 0.0 and got.max == 2.5


def _tied(kind: str) -> pd.Series:
    """Three values seen 3 times, then twelve seen twice in a scrambled order: the top ten
    are the three and the first seven of the twelve to occur, in order of occurrence."""
    rng = np.random.default_rng(3)
    frequent = [17, -4, 99]
    tied = [int(v) for v in rng.permutation(np.arange(100, 112))]
    order = [*frequent, *tied, *frequent, *rng.permutation(tied).tolist(), *frequent]
    if kind == "float":
        return pd.Series([v / 4 for v in order])
    if kind == "string":
        return pd.Series([f"v{v}" for v in order])
    return pd.Series(order)


@pytest.mark.parametrize("kind", ["integer", "float", "string"])
def test_ties_at_the_tenth_value_go_to_the_values_seen_first(
    client: opensage.Client, tmp_path: Path, kind: str
) -> None:
    series = _tied(kind)
    stats, stored = _stats(client, tmp_path, pd.DataFrame({"v": series}), f"ties-{kind}")

    got = [(v.value, v.count) for v in stats["v"].top_values]
    assert got == _top(stored["v"]) == _top(series)
    first_seen = list(dict.fromkeys(series.tolist()))
    assert got == [(v, 3) for v in first_seen[:3]] + [(v, 2) for v in first_seen[3:10]]
    assert stats["v"].distinct == 15


def test_ties_far_into_a_long_column(client: opensage.Client, tmp_path: Path) -> None:
    # Distinct values but for two seen twice (first after many others), and more values
    # than the first scan step: the top ten are those two, then the first eight seen.
    rng = np.random.default_rng(8)
    values = rng.permutation(20 * _FIRST_SCAN).astype(np.int64)
    values[-1] = values[3 * _FIRST_SCAN]
    values[-2] = values[5 * _FIRST_SCAN + 7]
    frame = pd.DataFrame({"i": values, "f": values / 8, "s": [f"k{v}" for v in values]})
    stats, stored = _stats(client, tmp_path, frame, "long-ties")

    for name in ("i", "f"):
        assert_like_pandas(stats[name], stored[name], numeric=True)
    assert_like_pandas(stats["s"], stored["s"], numeric=False)
    top = [v.value for v in stats["i"].top_values]
    assert top == [values[3 * _FIRST_SCAN], values[5 * _FIRST_SCAN + 7], *values[:8]]


def _tie_heavy(rng: np.random.Generator) -> np.ndarray:
    """Integers with ties at the tenth most frequent value: a few frequent values, then
    values drawn from a pool of 5 to n² (so the cut-off falls at counts of 1, 2 or more,
    with few or many values tied there)."""
    n = int(rng.integers(200, 30_000))
    frequent = rng.integers(-50, 0, int(rng.integers(0, 12)))
    values = rng.integers(0, int(10 ** rng.uniform(0.7, 2 * np.log10(n))), n)
    values[rng.random(n) < 0.05] = rng.choice(frequent) if frequent.size else 0
    return values


@pytest.mark.parametrize("listed_ties", [0, 64 * 1024], ids=["searched", "listed"])
def test_ties_found_by_search_or_from_a_list_rank_as_in_pandas(
    monkeypatch: pytest.MonkeyPatch, listed_ties: int
) -> None:
    # The values tied at the cut-off are looked up either in the whole sorted column or
    # in a list of them (made from the runs, or from values equal to the one a count
    # further on): both must give pandas' order.
    monkeypatch.setattr(statistics, "_LISTED_TIES", listed_ties)
    rng = np.random.default_rng(11)
    for _ in range(60):
        values = _tie_heavy(rng)
        chunks = np.array_split(values, int(rng.integers(1, 5)))
        for numbers in (chunks, [c / 4 for c in chunks]):  # integers and floats
            column = pa.chunked_array([pa.array(c) for c in numbers])
            got = statistics.column_statistics("v", column)
            series = pd.Series(np.concatenate(numbers))
            assert [(v["value"], v["count"]) for v in got["top_values"]] == _top(series)
            assert got["distinct"] == series.nunique()


# -- random columns --------------------------------------------------------------------------


def _random_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 4000))
    normal = rng.normal(rng.uniform(-100, 100), rng.uniform(0.1, 1e4), n)
    normal[rng.random(n) < 0.1] = np.nan
    spiky = rng.lognormal(0, 2, n)
    spiky[rng.random(n) < 0.02] = INF
    spiky[rng.random(n) < 0.01] = -INF
    spiky[rng.random(n) < 0.05] = np.nan
    small = pd.array(rng.integers(-3, 25, n), dtype="Int64")
    small[rng.random(n) < 0.05] = pd.NA
    words = rng.choice(["a", "b", "", "ccc", "dd", "e", "f", "g", "h", "i", "j", "k", "l"], n)
    return pd.DataFrame(
        {
            "normal": normal,
            "spiky": spiky,
            "rounded": rng.normal(0, 3, n).round(1),
            "small": small,
            "wide": rng.integers(-(10**15), 10**15, n),
            "zeros": rng.choice([-0.0, 0.0, 1.0], n),
            "words": pd.Series(words).where(rng.random(n) > 0.1, None),
            "flag": rng.random(n) < 0.5,
        }
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pandas' own inf - inf
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_columns_match_pandas(client: opensage.Client, tmp_path: Path, seed: int) -> None:
    frame = _random_frame(seed)
    stats, stored = _stats(client, tmp_path, frame, f"random-{seed}")
    pd.testing.assert_frame_equal(stored, frame, check_dtype=False)
    for name in frame:
        numeric = name not in ("words", "flag")
        assert_like_pandas(stats[name], stored[name], numeric=numeric)
    assert stats["spiky"].infinite == int(np.isinf(frame["spiky"]).sum())


# -- types pandas-style statistics do not cover ---------------------------------------------


def test_decimal_nested_and_duration_columns(client: opensage.Client, tmp_path: Path) -> None:
    table = pa.table(
        {
            "price": pa.array(
                [decimal.Decimal("1.50"), None, decimal.Decimal("2.25"), decimal.Decimal("1.50")],
                pa.decimal128(10, 2),
            ),
            "tags": pa.array([["a", "b"], None, ["a", "b"], []]),
            "point": pa.array([{"x": 1, "y": 2.5}, {"x": 1, "y": 2.5}, None, {"x": 0, "y": 0.0}]),
            "wait": pa.array([5, 5, None, 90], pa.duration("s")),
            "raw": pa.array([b"\x00\xff", b"ok", b"ok", None]),
        }
    )
    stats, _ = _stats(client, tmp_path, table, "odd-types")

    price = stats["price"]
    assert price.type == "float"
    assert_like_pandas(price, pd.Series([1.5, None, 2.25, 1.5], dtype=float), numeric=True)
    tags = stats["tags"]
    assert (tags.count, tags.missing, tags.distinct) == (3, 1, 2)
    assert [(v.value, v.count) for v in tags.top_values] == [(["a", "b"], 2), ([], 1)]
    point = stats["point"]
    assert [(v.value, v.count) for v in point.top_values] == [
        ({"x": 1, "y": 2.5}, 2),
        ({"x": 0, "y": 0.0}, 1),
    ]
    assert [(v.value, v.count) for v in stats["wait"].top_values] == [
        ("0:00:05", 2),
        ("0:01:30", 1),
    ]
    assert (stats["raw"].top_values[0].value, stats["raw"].top_values[0].count) == ("ok", 2)


def test_json_lines_with_nested_objects(client: opensage.Client, tmp_path: Path) -> None:
    rows = [
        {"id": 1, "meta": {"tag": "x", "n": [1, 2]}, "scores": [0.5]},
        {"id": 2, "meta": {"tag": "y", "n": []}, "scores": []},
        {"id": 3, "meta": {"tag": "x", "n": [1, 2]}, "scores": None},
    ]
    path = tmp_path / "nested.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = client.datasets.create(path, name="nested")
    stats = {c.name: c for c in dataset.stats().columns}
    assert dataset.num_rows == 3
    assert stats["meta"].distinct == 2
    assert stats["meta"].top_values[0].model_dump() == {
        "value": {"tag": "x", "n": [1, 2]},
        "count": 2,
    }
    assert (stats["scores"].count, stats["scores"].missing) == (2, 1)
