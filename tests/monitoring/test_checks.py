"""Windows of captured traffic (SageMaker capture files in an artifact store) checked
against a baseline computed from a Parquet file: no alarms on traffic like the baseline,
and each violation type raised by the case built for it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opensage.monitoring.baseline import (
    PREDICTION,
    compute_baseline,
    describe,
    read_references,
    reference_bytes,
    suggest,
)
from opensage.monitoring.captured import Window, read_window
from opensage.monitoring.checks import check_window
from opensage.monitoring.schemas import Constraints, Report
from opensage.monitoring.schemas import ViolationType as V
from opensage.storage import ArtifactStore

FEATURES = ["a", "b", "c"]
ENDPOINT = "churn"
T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
B_SHARES = [0.3, 0.25, 0.2, 0.15, 0.1]


# -- the world: features a (normal), b (0..4, categorical), c (>= 0), prediction ---------
def draw(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    a = rng.normal(0.0, 1.0, rows)
    b = rng.choice(5, size=rows, p=B_SHARES).astype(np.int64)
    c = rng.exponential(2.0, rows)
    return {"a": a, "b": b, "c": c, "prediction": model(a, b, c)}


def model(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * a + 0.2 * b + 0.3 * c, dtype=np.float64)


@dataclass
class Baseline:
    statistics: dict[str, Any]
    constraints: Constraints
    references: dict[str, np.ndarray]

    def check(self, window: Window, **changes: Any) -> Report:
        """The window's report, with ``changes`` made to the constraints (feature name ->
        field updates, or a top-level field)."""
        constraints = self.constraints.model_copy(deep=True)
        for key, value in changes.items():
            if key in FEATURES:
                constraints.features = [
                    f.model_copy(update=value) if f.name == key else f for f in constraints.features
                ]
            else:
                setattr(constraints, key, value)
        return check_window(window, self.statistics, constraints, self.references)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    rng = np.random.default_rng(2024)
    data = draw(rng, 20_000)
    path = tmp_path_factory.mktemp("baseline") / "train.parquet"
    pq.write_table(
        pa.table(
            {
                "a": pa.array(data["a"], pa.float64()),
                "b": pa.array(data["b"], pa.int64()),
                "c": pa.array(data["c"], pa.float64()),
                "y": pa.array(rng.integers(0, 2, 20_000), pa.int64()),
            }
        ),
        path,
    )
    features, statistics, constraints, reference = compute_baseline(path, None, "y")
    assert features == FEATURES
    stats, prediction_reference = describe(PREDICTION, "fractional", data["prediction"])
    constraints.prediction = suggest(stats).model_copy(update={"completeness": 0.0})
    statistics[PREDICTION] = stats
    references = read_references(reference)
    references[PREDICTION] = prediction_reference
    # As the service keeps them: JSON in the database, Parquet in the store.
    return Baseline(
        statistics=orjson.loads(orjson.dumps(statistics)),
        constraints=Constraints.model_validate(constraints.model_dump(mode="json")),
        references=read_references(reference_bytes(references)),
    )


def test_baseline_suggests_the_constraints_of_the_data(baseline: Baseline) -> None:
    by_name = {f.name: f for f in baseline.constraints.features}
    assert by_name["a"].inferred_type == "fractional"
    assert not by_name["a"].categorical and not by_name["a"].is_non_negative
    assert by_name["b"].inferred_type == "integral"
    assert by_name["b"].categorical and by_name["b"].domain == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert by_name["c"].is_non_negative and not by_name["c"].categorical
    assert all(f.completeness == 1.0 for f in by_name.values())
    assert baseline.references["a"].size == 10_000  # thinned from 20,000
    assert np.all(np.diff(baseline.references["a"]) >= 0)


# -- capture files -----------------------------------------------------------------------
def record(
    body: str,
    *,
    at: datetime,
    event: str,
    content_type: str = "text/csv",
    output: str = "0.5",
    accept: str = "text/csv",
    inference_id: str | None = None,
    base64_input: bool = False,
) -> bytes:
    """One capture line, as ``opensage.serving.capture`` writes it."""
    if base64_input:
        given = {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": base64.b64encode(body.encode()).decode(),
            "encoding": "BASE64",
        }
    else:
        encoding = "CSV" if content_type == "text/csv" else "JSON"
        given = {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": body,
            "encoding": encoding,
        }
    metadata = {"eventId": event, "inferenceTime": at.isoformat()}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return orjson.dumps(
        {
            "captureData": {
                "endpointInput": given,
                "endpointOutput": {
                    "observedContentType": accept,
                    "mode": "OUTPUT",
                    "data": output,
                    "encoding": "CSV" if accept == "text/csv" else "JSON",
                },
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
            "variant": "AllTraffic",
        }
    )


def write(
    store: ArtifactStore,
    lines: Sequence[bytes],
    at: datetime,
    *,
    endpoint: str = ENDPOINT,
    name: str = "part",
) -> str:
    key = (
        f"endpoints/{endpoint}/data-capture/AllTraffic/{at:%Y/%m/%d/%H}/{name}-{at:%M-%S-%f}.jsonl"
    )
    store.put_bytes(b"\n".join(lines) + b"\n", key)
    return key


def csv_row(a: Any, b: Any, c: Any) -> str:
    return ",".join(_text(v) for v in (a, b, c))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return str(int(value))
    return repr(float(value))


Row = list[str]
"""One request row's CSV fields."""


def rows_of(data: dict[str, np.ndarray]) -> list[Row]:
    return [
        [_text(a), _text(b), _text(c)]
        for a, b, c in zip(data["a"], data["b"], data["c"], strict=True)
    ]


def capture_csv(
    store: ArtifactStore,
    rows: Sequence[Row],
    predictions: Sequence[float] | np.ndarray,
    start: datetime,
    *,
    endpoint: str = ENDPOINT,
    per_request: int = 1,
) -> None:
    """CSV requests of ``per_request`` rows, a millisecond apart from ``start``."""
    lines = [
        record(
            "\n".join(",".join(row) for row in rows[i : i + per_request]),
            at=start + timedelta(milliseconds=i),
            event=f"e{i}",
            output="\n".join(repr(float(p)) for p in predictions[i : i + per_request]),
        )
        for i in range(0, len(rows), per_request)
    ]
    write(store, lines, start, endpoint=endpoint)


def capture_json(
    store: ArtifactStore,
    objects: Sequence[dict[str, Any]],
    predictions: Sequence[float] | np.ndarray,
    start: datetime,
    *,
    endpoint: str = ENDPOINT,
    per_request: int = 10,
) -> None:
    """``{"instances": [...]}`` requests of ``per_request`` objects, answered in JSON."""
    lines = [
        record(
            orjson.dumps({"instances": list(objects[i : i + per_request])}).decode(),
            at=start + timedelta(milliseconds=i),
            event=f"e{i}",
            content_type="application/json",
            output=orjson.dumps(
                {"predictions": [float(p) for p in predictions[i : i + per_request]]}
            ).decode(),
            accept="application/json",
        )
        for i in range(0, len(objects), per_request)
    ]
    write(store, lines, start, endpoint=endpoint)


def read(store: ArtifactStore, start: datetime, *, endpoint: str = ENDPOINT) -> Window:
    return read_window(store, endpoint, start, start + timedelta(hours=1), FEATURES)


def ids(window: Window) -> list[str]:
    """The window's event id per row."""
    assert window.event_ids is not None
    events = window.event_ids
    return list(events.to_pylist() if hasattr(events, "to_pylist") else events.tolist())


def kinds(report: Report) -> set[tuple[str, str | None]]:
    return {(v.check.value, v.feature) for v in report.violations}


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "store"))


ROWS = 2_000


@pytest.fixture
def traffic() -> dict[str, np.ndarray]:
    """A window's worth of rows from the baseline's distribution."""
    return draw(np.random.default_rng(123), ROWS)


# -- no alarms on traffic like the baseline ---------------------------------------------
def test_false_positive_rate_is_bounded(store: ArtifactStore, baseline: Baseline) -> None:
    rng = np.random.default_rng(7)
    windows = 20
    for number in range(windows):
        data = draw(rng, ROWS)
        capture_csv(store, rows_of(data), data["prediction"], T0 + timedelta(hours=number))
    flagged = []
    for number in range(windows):
        window = read(store, T0 + timedelta(hours=number))
        assert window.rows == ROWS and window.records == ROWS
        report = baseline.check(window)
        assert report.prediction is not None and report.prediction.tests
        assert all(f.tests for f in report.features)
        if report.violations:
            flagged.append((number, kinds(report)))
    assert len(flagged) <= 1, flagged


def test_clean_window_has_no_violations_on_either_path(
    store: ArtifactStore, baseline: Baseline, traffic: dict[str, np.ndarray]
) -> None:
    capture_csv(store, rows_of(traffic), traffic["prediction"], T0)
    objects = [
        {"a": float(a), "b": int(b), "c": float(c)}
        for a, b, c in zip(traffic["a"], traffic["b"], traffic["c"], strict=True)
    ]
    capture_json(store, objects, traffic["prediction"], T0, endpoint="json")
    for endpoint in (ENDPOINT, "json"):
        window = read(store, T0, endpoint=endpoint)
        assert window.rows == ROWS
        report = baseline.check(window)
        assert report.violations == [], (endpoint, report.violations)
        assert [f.name for f in report.features] == FEATURES
        assert report.features[0].mean == pytest.approx(float(traffic["a"].mean()))


def test_empty_window_reports_no_traffic(store: ArtifactStore, baseline: Baseline) -> None:
    report = baseline.check(read(store, T0))
    assert report.rows == 0
    assert report.violations == []
    assert any("no captured traffic" in n for n in report.notes)


# -- each violation type, from the case built for it ------------------------------------
Mutation = Callable[[list[Row], np.ndarray], None]
FIVE = [3, 400, 999, 1500, 1999]


def _set(column: int, value: str) -> Mutation:
    def mutate(rows: list[Row], predictions: np.ndarray) -> None:
        for i in FIVE:
            rows[i][column] = value

    return mutate


def _shift(column: int, by: float) -> Mutation:
    def mutate(rows: list[Row], predictions: np.ndarray) -> None:
        for row in rows:
            row[column] = repr(float(row[column]) + by)

    return mutate


def _reshuffle_b(rows: list[Row], predictions: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    for row in rows:
        row[1] = str(int(rng.choice(5, p=B_SHARES[::-1])))


def _shift_predictions(rows: list[Row], predictions: np.ndarray) -> None:
    predictions += float(np.std(predictions))


def _drop_c(rows: list[Row], predictions: np.ndarray) -> None:
    for i in FIVE:
        del rows[i][2]


def _extra_column(rows: list[Row], predictions: np.ndarray) -> None:
    for row in rows:
        row.append("9")


def _extra_column_some(rows: list[Row], predictions: np.ndarray) -> None:
    for i in FIVE:
        rows[i].append("9")


@pytest.mark.parametrize(
    ("mutate", "changes", "expected"),
    [
        # Text in a numeric field. The text is no number, so the row also lacks a value
        # for a: the constraint here allows a few missing values to isolate the type check.
        pytest.param(
            _set(0, "abc"),
            {"a": {"completeness": 0.99}},
            {(V.DATA_TYPE, "a")},
            id="data_type-text",
        ),
        # 2.5 in the integral column b is both fractional and outside b's domain 0..4.
        pytest.param(
            _set(1, "2.5"),
            {},
            {(V.DATA_TYPE, "b"), (V.CATEGORICAL_VALUES, "b")},
            id="data_type-fractional",
        ),
        pytest.param(_set(1, ""), {}, {(V.COMPLETENESS, "b")}, id="completeness-empty"),
        pytest.param(_set(2, ""), {}, {(V.COMPLETENESS, "c")}, id="completeness-empty-last-field"),
        # Rows with fewer fields: c is missing from those requests (and so incomplete,
        # which the constraint here allows).
        pytest.param(
            _drop_c,
            {"c": {"completeness": 0.99}},
            {(V.MISSING_COLUMN, "c")},
            id="missing_column-csv",
        ),
        pytest.param(
            _drop_c,
            {},
            {(V.MISSING_COLUMN, "c"), (V.COMPLETENESS, "c")},
            id="missing_column-csv-strict",
        ),
        pytest.param(_extra_column, {}, {(V.EXTRA_COLUMN, None)}, id="extra_column-all"),
        pytest.param(_extra_column_some, {}, {(V.EXTRA_COLUMN, None)}, id="extra_column-some"),
        pytest.param(
            _extra_column, {"check_extra_columns": False}, set(), id="extra_column-disabled"
        ),
        pytest.param(_set(1, "7"), {}, {(V.CATEGORICAL_VALUES, "b")}, id="categorical_values"),
        pytest.param(_set(2, "-1.5"), {}, {(V.NON_NEGATIVE, "c")}, id="non_negative"),
        pytest.param(_shift(0, 1.0), {}, {(V.BASELINE_DRIFT, "a")}, id="baseline_drift-a"),
        pytest.param(_reshuffle_b, {}, {(V.BASELINE_DRIFT, "b")}, id="baseline_drift-b"),
        pytest.param(
            _shift_predictions,
            {},
            {(V.PREDICTION_DRIFT, PREDICTION)},
            id="prediction_drift",
        ),
    ],
)
def test_violation_fires_for_its_case_only(
    store: ArtifactStore,
    baseline: Baseline,
    traffic: dict[str, np.ndarray],
    mutate: Mutation,
    changes: dict[str, Any],
    expected: set[tuple[V, str | None]],
) -> None:
    rows = rows_of(traffic)
    predictions = traffic["prediction"].copy()
    mutate(rows, predictions)
    capture_csv(store, rows, predictions, T0, per_request=10)
    window = read(store, T0)
    assert window.rows == ROWS
    report = baseline.check(window, **changes)
    assert kinds(report) == {(k.value, f) for k, f in expected}


def test_violation_details(
    store: ArtifactStore, baseline: Baseline, traffic: dict[str, np.ndarray]
) -> None:
    rows = rows_of(traffic)
    for i in FIVE:
        rows[i][0] = "abc" if i % 2 else "1.2.3"
        rows[i][2] = "-1.5"
    rows[10][2] = "-4"
    capture_csv(store, rows, traffic["prediction"], T0)
    window = read(store, T0)
    assert window.columns["a"].non_numeric == 5
    assert set(window.columns["a"].examples) == {"abc", "1.2.3"}
    report = baseline.check(window, a={"completeness": 0.99})
    by_check = {v.check: v for v in report.violations}
    assert set(by_check) == {V.DATA_TYPE, V.NON_NEGATIVE}
    assert "5 value(s) of 'a' are not numbers" in by_check[V.DATA_TYPE].description
    assert "6 value(s) of 'c' are negative (least -4)" in by_check[V.NON_NEGATIVE].description
    a = report.features[0]
    assert (a.count, a.missing) == (ROWS - 5, 5)


def test_missing_column_from_json_objects_lacking_a_feature(
    store: ArtifactStore, baseline: Baseline, traffic: dict[str, np.ndarray]
) -> None:
    objects: list[dict[str, Any]] = [
        {"a": float(a), "b": int(b), "c": float(c)}
        for a, b, c in zip(traffic["a"], traffic["b"], traffic["c"], strict=True)
    ]
    for i in FIVE:
        del objects[i]["b"]
    capture_json(store, objects, traffic["prediction"], T0)
    window = read(store, T0)
    assert window.missing_columns == ["b"]
    assert window.columns["b"].missing == 5
    assert np.isnan(window.columns["b"].values[FIVE]).all()
    report = baseline.check(window, b={"completeness": 0.99})
    assert kinds(report) == {(V.MISSING_COLUMN.value, "b")}


def test_extra_key_in_json_objects(
    store: ArtifactStore, baseline: Baseline, traffic: dict[str, np.ndarray]
) -> None:
    objects: list[dict[str, Any]] = [
        {"a": float(a), "b": int(b), "c": float(c)}
        for a, b, c in zip(traffic["a"], traffic["b"], traffic["c"], strict=True)
    ]
    objects[17]["region"] = 3
    capture_json(store, objects, traffic["prediction"], T0)
    window = read(store, T0)
    assert window.extra_columns == ["region"]
    report = baseline.check(window)
    assert kinds(report) == {(V.EXTRA_COLUMN.value, None)}
    assert "region" in report.violations[0].description


# -- the time window ---------------------------------------------------------------------
def test_window_keeps_only_records_in_start_end(store: ArtifactStore) -> None:
    start = datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    end = datetime(2024, 3, 1, 11, 45, tzinfo=UTC)
    times = {
        "before-hour": datetime(2024, 3, 1, 9, 59, 59, 999999, tzinfo=UTC),
        "before-same-hour": datetime(2024, 3, 1, 10, 14, 59, 999999, tzinfo=UTC),
        "at-start": start,
        "inside": datetime(2024, 3, 1, 10, 59, 59, tzinfo=UTC),
        "next-hour": datetime(2024, 3, 1, 11, 0, tzinfo=UTC),
        "just-before-end": end - timedelta(microseconds=1),
        "at-end": end,
        "after-same-hour": datetime(2024, 3, 1, 11, 59, tzinfo=UTC),
        "after-hour": datetime(2024, 3, 1, 12, 0, 1, tzinfo=UTC),
    }
    inside = ["at-start", "inside", "next-hour", "just-before-end"]
    for number, (event, at) in enumerate(times.items()):
        write(store, [record(f"{number},1,1", at=at, event=event)], at, name=event)
    # A record filed under an hour of the window but stamped outside it is left out too.
    late = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
    write(store, [record("99,1,1", at=late, event="misfiled")], start, name="misfiled")
    window = read_window(store, ENDPOINT, start, end, FEATURES)
    assert window.records == len(inside)
    assert window.rows == len(inside)
    assert sorted(ids(window)) == sorted(inside)
    numbers = {event: float(n) for n, event in enumerate(times)}
    assert sorted(window.columns["a"].values.tolist()) == sorted(numbers[e] for e in inside)


def test_window_offsets_other_than_utc(store: ArtifactStore) -> None:
    """An inference time with another offset is compared as the instant it names."""
    at = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    local = at.astimezone(timezone(timedelta(hours=2)))
    write(store, [record("1,1,1", at=local, event="x")], at)
    window = read_window(store, ENDPOINT, at, at + timedelta(minutes=1), FEATURES)
    assert window.rows == 1


# -- the CSV fast path and the per-record path agree ----------------------------------------
def _mixed_requests(traffic: dict[str, np.ndarray]) -> list[tuple[list[Row], list[float]]]:
    """Requests of one to three rows, with empty fields and varied number spellings."""
    rows = rows_of({k: v[:300] for k, v in traffic.items()})
    rows[5][0] = "1e-05"
    rows[6][0] = "-0.0"
    rows[7][2] = "7."
    rows[8][2] = ".25"
    rows[9][0] = "+3"
    rows[10][1] = ""
    rows[11][2] = ""
    rows[12][0] = "-2.5E+2"
    predictions = traffic["prediction"][:300].tolist()
    requests = []
    i = 0
    size = 1
    while i < len(rows):
        requests.append((rows[i : i + size], predictions[i : i + size]))
        i += size
        size = size % 3 + 1
    return requests


def _capture_requests(
    store: ArtifactStore,
    requests: list[tuple[list[Row], list[float]]],
    endpoint: str,
    form: str,
) -> None:
    lines = []
    for number, (rows, predictions) in enumerate(requests):
        at = T0 + timedelta(seconds=number)
        if form == "json":
            objects = [
                {name: float(v) for name, v in zip(FEATURES, row, strict=True) if v} for row in rows
            ]
            body = orjson.dumps({"instances": objects}).decode()
            output = orjson.dumps({"predictions": predictions}).decode()
            lines.append(
                record(
                    body,
                    at=at,
                    event=f"e{number}",
                    content_type="application/json",
                    output=output,
                    accept="application/json",
                )
            )
        else:
            lines.append(
                record(
                    "\n".join(",".join(row) for row in rows),
                    at=at,
                    event=f"e{number}",
                    output="\n".join(repr(p) for p in predictions),
                    base64_input=form == "base64",
                    inference_id=f"i{number}" if number % 2 else None,
                )
            )
    write(store, lines, T0, endpoint=endpoint)


def test_csv_fast_path_and_record_path_read_the_same_columns(
    store: ArtifactStore, traffic: dict[str, np.ndarray]
) -> None:
    requests = _mixed_requests(traffic)
    # Plain CSV takes the fast path; base64-encoded CSV and JSON go record by record.
    for endpoint in ("csv", "base64", "json"):
        _capture_requests(store, requests, endpoint, endpoint)
    windows = {e: read(store, T0, endpoint=e) for e in ("csv", "base64", "json")}
    fast = windows["csv"]
    assert fast.records == len(requests)
    assert fast.rows == 300
    assert fast.columns["a"].values[5] == 1e-05
    assert fast.columns["a"].values[12] == -250.0
    assert np.isnan(fast.columns["b"].values[10])
    for endpoint in ("base64", "json"):
        other = windows[endpoint]
        assert other.records == fast.records
        assert other.rows == fast.rows
        for name in FEATURES:
            np.testing.assert_array_equal(
                other.columns[name].values, fast.columns[name].values, err_msg=endpoint
            )
            assert other.columns[name].missing == fast.columns[name].missing
            assert other.columns[name].non_numeric == fast.columns[name].non_numeric == 0
        assert other.predictions is not None and fast.predictions is not None
        np.testing.assert_array_equal(other.predictions, fast.predictions)
        assert other.extra_columns == fast.extra_columns == []
    assert fast.missing_columns == windows["base64"].missing_columns == []
    assert fast.columns["b"].missing == 1
    assert fast.columns["c"].missing == 1
    # A request's rows share its id: the inference id when the caller sent one.
    expected_ids = [
        (f"i{n}" if n % 2 else f"e{n}") for n, (rows, _) in enumerate(requests) for _ in rows
    ]
    assert ids(fast) == expected_ids
    assert ids(windows["base64"]) == expected_ids
    assert ids(windows["json"]) == [f"e{n}" for n, (rows, _) in enumerate(requests) for _ in rows]
    assert fast.predictions is not None
    np.testing.assert_array_equal(
        fast.predictions[:, 0], np.asarray(traffic["prediction"][:300], dtype=np.float64)
    )


def test_ragged_csv_rows_fall_back_to_the_record_path(
    store: ArtifactStore, traffic: dict[str, np.ndarray]
) -> None:
    rows = rows_of({k: v[:50] for k, v in traffic.items()})
    rows[20] = rows[20][:2]
    rows[30].append("5")
    capture_csv(store, rows, traffic["prediction"][:50], T0, per_request=5)
    window = read(store, T0)
    assert window.rows == 50
    assert window.missing_columns == ["c"]
    assert window.extra_columns == ["column_4"]
    assert np.isnan(window.columns["c"].values[20])
    expected = np.asarray([float(r[0]) for r in rows])
    np.testing.assert_array_equal(window.columns["a"].values, expected)


def test_csv_null_and_infinity_tokens_read_the_same_on_both_paths(
    store: ArtifactStore,
) -> None:
    tokens = ["NA", "N/A", "NaN", "null", "#N/A", "Infinity", "-Inf"]
    rows = [[token, "1", "1.0"] for token in tokens] + [["0.5", "2", "3.0"]]
    predictions = [0.1] * len(rows)
    capture_csv(store, rows, predictions, T0, endpoint="csv")
    lines = [
        record(",".join(row), at=T0 + timedelta(seconds=i), event=f"e{i}", base64_input=True)
        for i, row in enumerate(rows)
    ]
    write(store, lines, T0, endpoint="base64")
    fast, slow = read(store, T0, endpoint="csv"), read(store, T0, endpoint="base64")
    assert fast.rows == slow.rows == len(rows)
    np.testing.assert_array_equal(fast.columns["a"].values, slow.columns["a"].values)
    assert fast.columns["a"].missing == slow.columns["a"].missing
    assert fast.columns["a"].non_numeric == slow.columns["a"].non_numeric
