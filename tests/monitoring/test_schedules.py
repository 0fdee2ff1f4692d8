"""Monitoring schedules end to end: validation, baselines and their constraints, drift
detection on captured traffic, the schedule's own timer, and model quality from ground
truth uploaded late."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn import metrics as sk

from opensage.client.endpoints import Endpoint
from opensage.client.monitoring import Baseline, Execution, MonitoringSchedule
from opensage.monitoring.schemas import MetricBound
from opensage.serving.model import ServedModel
from tests.monitoring.conftest import FEATURES, LABEL, Env, error_of, make_frame

SCHEDULES = "/api/v1/monitoring-schedules"
Sent = tuple[datetime, datetime, list[tuple[str, list[float]]]]


@dataclass
class Live:
    env: Env
    version: int
    endpoint: Endpoint
    baseline: Baseline
    schedule: MonitoringSchedule
    train: pd.DataFrame


@pytest.fixture(scope="module")
def live(env: Env) -> Iterator[Live]:
    version = env.train("exam", 40)
    endpoint = env.deploy("exam-live", "exam", version)
    baseline = env.client.baselines.create(
        "exam-base", "exam", split="train", model_group="exam", model_version=version
    ).wait(timeout=120)
    assert baseline.info.status.value == "Completed", baseline.info.failure_reason
    schedule = env.client.monitoring_schedules.create(
        "exam-watch", "exam-live", "exam-base", every="1h"
    )
    train = env.client.datasets.get("exam").to_pandas(split="train")
    yield Live(env, version, endpoint, baseline, schedule, train)
    endpoint.close()


@pytest.fixture(scope="module")
def steady(live: Live) -> Sent:
    """300 rows of the baseline itself, in a window of their own."""
    return live.env.send(live.endpoint, live.train.iloc[:300])


@pytest.fixture(scope="module")
def shifted(live: Live) -> Sent:
    """The same rows with ``experience`` three times larger."""
    rows = live.train.iloc[:300].copy()
    rows["experience"] *= 3
    return live.env.send(live.endpoint, rows)


def run(schedule: MonitoringSchedule, window: Sent) -> Execution:
    execution = schedule.run(window_start=window[0], window_end=window[1], timeout=60)
    assert execution.info.failure_reason is None
    return execution


def checks(execution: Execution) -> set[tuple[str, str | None]]:
    return {(v.check.value, v.feature) for v in execution.report.violations}


# -- validation -----------------------------------------------------------------------
def test_creating_a_schedule_checks_endpoint_baseline_and_timing(live: Live) -> None:
    http = live.env.http
    live.env.client.endpoints.create(
        "exam-blind", variants=[{"model_group": "exam", "model_version": live.version}]
    )
    ok = {"name": "checked", "endpoint": "exam-live", "baseline": "exam-base"}

    error = error_of(http.post(SCHEDULES, json={**ok, "endpoint": "no-such-endpoint"}))
    assert error["field"] == "endpoint" and "no-such-endpoint" in error["message"]
    error = error_of(http.post(SCHEDULES, json={**ok, "endpoint": "exam-blind"}))
    assert error["field"] == "endpoint" and "capture" in error["message"]
    error = error_of(http.post(SCHEDULES, json={**ok, "baseline": "no-such-baseline"}))
    assert error["field"] == "baseline" and "no-such-baseline" in error["message"]
    error = error_of(http.post(SCHEDULES, json={**ok, "every": "5 parsecs"}))
    assert "every" in (error.get("field") or "") + error["message"]
    error_of(http.post(SCHEDULES, json={**ok, "every": 0}))
    error = error_of(http.post(SCHEDULES, json={**ok, "cron": "every tuesday"}))
    assert error["field"] == "cron"
    error = error_of(http.post(SCHEDULES, json={**ok, "every": "1h", "cron": "0 * * * *"}))
    assert "cron" in error["message"]
    error_of(http.post(SCHEDULES, json={**ok, "webhook_url": "ftp://example.com/hook"}))

    duplicate = http.post(SCHEDULES, json={**ok, "name": "exam-watch"})
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["error"]["code"] == "conflict"

    names = [s.name for s in live.env.client.monitoring_schedules.list()]
    assert "checked" not in names and "exam-watch" in names
    original = live.env.client.monitoring_schedules.get("exam-watch").info
    assert original.every_s == 3600 and original.baseline == "exam-base"

    cron = http.post(SCHEDULES, json={**ok, "every": None, "cron": "*/5 * * * *"})
    assert cron.status_code == 201, cron.text
    body = cron.json()
    assert body["cron"] == "*/5 * * * *" and body["every_s"] is None
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert next_run.minute % 5 == 0 and next_run.second == 0
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(minutes=5, seconds=1)
    assert http.delete(f"{SCHEDULES}/checked").status_code == 204


# -- baselines ------------------------------------------------------------------------
def test_baseline_suggests_statistics_and_constraints_per_feature(live: Live) -> None:
    baseline = live.env.client.baselines.create("exam-stats", "exam", split="train")
    info = baseline.info
    assert info.status.value == "Completed"  # no model: nothing to wait for
    assert info.features == FEATURES and info.label == LABEL
    assert sorted(info.statistics["features"]) == sorted(FEATURES)
    for name in FEATURES:
        stats = info.statistics["features"][name]
        assert stats["count"] == len(live.train) and stats["missing"] == 0
        assert stats["mean"] == pytest.approx(live.train[name].mean())
        assert stats["min"] == pytest.approx(live.train[name].min())

    by_name = {c.name: c for c in info.constraints.features}
    assert list(by_name) == FEATURES
    assert all(c.completeness == 1.0 for c in by_name.values())
    experience, grade, delta = by_name["experience"], by_name["grade"], by_name["delta"]
    assert experience.inferred_type == "fractional"
    assert experience.is_non_negative and not experience.categorical
    assert experience.domain is None
    assert grade.inferred_type == "integral" and grade.categorical
    assert grade.domain == [1.0, 2.0, 3.0]
    assert info.statistics["features"]["grade"]["categories"] == {
        str(k): int(v) for k, v in live.train["grade"].value_counts().sort_index().items()
    }
    assert delta.inferred_type == "fractional" and not delta.is_non_negative
    assert info.constraints.prediction is None and info.constraints.model_quality == {}

    error = error_of(
        live.env.http.post(
            "/api/v1/baselines", json={"name": "exam-x", "dataset": "exam", "split": "holdout"}
        )
    )
    assert error["field"] == "split"
    error = error_of(
        live.env.http.post("/api/v1/baselines", json={"name": "exam-x", "dataset": "nope"})
    )
    assert error["field"] == "dataset"
    again = live.env.http.post("/api/v1/baselines", json={"name": "exam-stats", "dataset": "exam"})
    assert again.status_code == 409


def test_baseline_with_a_model_adds_prediction_and_quality_constraints(live: Live) -> None:
    info = live.env.client.baselines.get("exam-base").info
    assert info.status.value == "Completed" and info.problem_type == "regression"
    assert (info.model_group, info.model_version) == ("exam", live.version)
    prediction = info.constraints.prediction
    assert prediction is not None and prediction.name == "prediction"
    assert prediction.inferred_type == "fractional" and not prediction.categorical
    assert info.statistics["prediction"]["count"] == len(live.train)

    # The baseline's model quality is the model's on the baseline rows, and the
    # suggested bounds are a quarter worse (errors) or 0.1 lower (scores).
    target = live.env.platform.registry.download("exam", live.version, live.env.root / "m")
    model = ServedModel(target)
    predicted = np.asarray(
        model.predict(live.train[FEATURES].to_numpy(dtype=np.float64)), dtype=np.float64
    ).reshape(-1)
    truth = live.train[LABEL].to_numpy()
    rmse = float(np.sqrt(sk.mean_squared_error(truth, predicted)))
    quality = info.statistics["model_quality"]["metrics"]
    assert quality["rmse"] == pytest.approx(rmse, rel=1e-4)
    assert quality["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted), rel=1e-4)
    bounds = info.constraints.model_quality
    assert bounds["rmse"].max == pytest.approx(1.25 * quality["rmse"])
    assert bounds["mae"].max == pytest.approx(1.25 * quality["mae"])
    assert bounds["r2"].min == pytest.approx(quality["r2"] - 0.1)


# -- drift ----------------------------------------------------------------------------
def test_traffic_like_the_baseline_has_no_violations(live: Live, steady: Sent) -> None:
    execution = run(live.schedule, steady)
    assert execution.status.value == "Completed", execution.report.violations
    report = execution.report
    assert report.violations == []
    assert report.rows == 300 and report.records == len(steady[2])
    assert [f.name for f in report.features] == FEATURES
    for feature in report.features:
        assert not feature.drift and feature.count == 300 and feature.completeness == 1.0
    assert report.prediction is not None and not report.prediction.drift
    assert report.prediction.count == 300


def test_shifted_traffic_is_reported_as_drift(live: Live, shifted: Sent) -> None:
    execution = run(live.schedule, shifted)
    assert execution.status.value == "CompletedWithViolations"
    found = checks(execution)
    assert ("baseline_drift_check", "experience") in found
    assert ("prediction_drift_check", "prediction") in found
    assert not {f for c, f in found if c == "baseline_drift_check"} - {"experience"}
    assert not {c for c, _ in found} - {"baseline_drift_check", "prediction_drift_check"}

    features = {f.name: f for f in execution.report.features}
    experience = features["experience"]
    assert experience.drift and not features["hours"].drift and not features["grade"].drift
    tests = {t.test: t for t in experience.tests}
    ks, psi = tests["kolmogorov_smirnov"], tests["population_stability_index"]
    assert ks.drift and ks.statistic > 0.5 and ks.p_value < 0.01 and ks.threshold == 0.1
    assert psi.drift and psi.statistic > 0.2 and psi.threshold == 0.2
    assert experience.mean > 2 * experience.baseline_mean
    chart = experience.histogram
    assert chart is not None
    assert len(chart["baseline"]) == len(chart["current"]) == len(chart["edges"]) - 1
    assert sum(chart["baseline"]) == pytest.approx(1.0)
    assert sum(chart["current"]) == pytest.approx(1.0)
    assert chart["current"][-1] > 0.6  # everything above the baseline's range
    assert {t.test for t in features["grade"].tests} == {"chi_square", "jensen_shannon"}

    summary = live.env.client.monitoring_schedules.get("exam-watch").info.last_execution
    assert summary is not None and summary.number == execution.number
    assert summary.status.value == "CompletedWithViolations"
    assert summary.violations == len(execution.report.violations)


def test_structural_checks_catch_bad_values(live: Live) -> None:
    rows = live.train.iloc[:100].copy()
    rows["hours"] = -rows["hours"]
    rows["grade"] = rows["grade"] + 0.5
    window = live.env.send(live.endpoint, rows)
    execution = run(live.schedule, window)
    found = checks(execution)
    assert ("non_negative_check", "hours") in found
    assert ("data_type_check", "grade") in found
    assert ("categorical_values_check", "grade") in found
    assert ("non_negative_check", "experience") not in found


def test_executions_are_listed_newest_first(live: Live, steady: Sent, shifted: Sent) -> None:
    first = live.schedule.run(window_start=steady[0], window_end=steady[1], wait=False)
    second = live.schedule.run(window_start=shifted[0], window_end=shifted[1], wait=False)
    first.wait(timeout=60)
    second.wait(timeout=60)
    listed = live.schedule.executions()
    numbers = [e.number for e in listed]
    assert numbers == sorted(numbers, reverse=True) and numbers[0] == second.number
    assert first.number in numbers
    flagged = [e.number for e in live.schedule.executions(status="CompletedWithViolations")]
    assert second.number in flagged and first.number not in flagged
    assert live.schedule.execution(first.number).status.value == "Completed"
    missing = live.env.http.get(f"{SCHEDULES}/exam-watch/executions/9999")
    assert missing.status_code == 404


def test_loosened_constraints_change_the_outcome(live: Live, shifted: Sent) -> None:
    env = live.env
    baseline = env.client.baselines.create("exam-loose", "exam", split="train")
    schedule = env.client.monitoring_schedules.create("loose-watch", "exam-live", "exam-loose")
    before = run(schedule, shifted)
    assert before.status.value == "CompletedWithViolations"
    assert ("baseline_drift_check", "experience") in checks(before)

    constraints = baseline.constraints.model_dump(mode="json")
    wrong = {**constraints, "features": [*constraints["features"], {**constraints["features"][0]}]}
    wrong["features"][-1]["name"] = "salary"
    error = error_of(env.http.put("/api/v1/baselines/exam-loose/constraints", json=wrong))
    assert "salary" in error["message"]
    error_of(env.http.put("/api/v1/baselines/exam-loose/constraints", json={"features": 3}))
    assert env.client.baselines.get("exam-loose").constraints == baseline.constraints

    loose = baseline.constraints.model_copy(deep=True)
    loose.drift.ks_threshold = 1.0
    loose.drift.psi_threshold = 1e9
    baseline.update_constraints(loose)
    assert env.client.baselines.get("exam-loose").constraints.drift.ks_threshold == 1.0

    after = run(schedule, shifted)
    assert (after.info.window_start, after.info.window_end) == (
        before.info.window_start,
        before.info.window_end,
    )
    assert after.status.value == "Completed", after.report.violations
    experience = next(f for f in after.report.features if f.name == "experience")
    assert not experience.drift
    assert {t.test: t.threshold for t in experience.tests}["kolmogorov_smirnov"] == 1.0

    # A per-feature threshold overrides the baseline-wide one.
    strict = loose.model_copy(deep=True)
    strict.features[0].drift = strict.drift.model_copy(
        update={"ks_threshold": 0.1, "psi_threshold": 0.2}
    )
    baseline.update_constraints(strict)
    again = run(schedule, shifted)
    assert checks(again) == {("baseline_drift_check", "experience")}
    schedule.delete()


# -- the schedule's own timer ---------------------------------------------------------
def test_stop_and_start(live: Live, steady: Sent) -> None:
    schedule = live.env.client.monitoring_schedules.create(
        "stop-watch", "exam-live", "exam-base", every="2h"
    )
    assert schedule.info.status.value == "Scheduled" and schedule.info.next_run_at is not None
    schedule.stop()
    assert schedule.info.status.value == "Stopped" and schedule.info.next_run_at is None
    assert live.env.client.monitoring_schedules.get("stop-watch").info.status.value == "Stopped"
    stopped = [
        s.name for s in live.env.client.monitoring_schedules.list() if s.name == "stop-watch"
    ]
    assert stopped == ["stop-watch"]
    listed = live.env.http.get(SCHEDULES, params={"status": "Stopped"}).json()["items"]
    assert [s["name"] for s in listed] == ["stop-watch"]

    assert run(schedule, steady).status.value == "Completed"  # run-now still works

    begun = datetime.now(UTC)
    schedule.start()
    assert schedule.info.status.value == "Scheduled"
    assert schedule.info.next_run_at is not None
    delay = schedule.info.next_run_at - begun
    assert timedelta(hours=2) - timedelta(seconds=5) < delay < timedelta(hours=2, seconds=5)
    assert live.env.http.post(f"{SCHEDULES}/nope/stop").status_code == 404
    schedule.delete()
    assert live.env.http.get(f"{SCHEDULES}/stop-watch").status_code == 404


def test_an_interval_schedule_runs_by_itself(live: Live) -> None:
    schedule = live.env.client.monitoring_schedules.create(
        "ticking", "exam-live", "exam-base", every=1
    )
    try:
        deadline = time.monotonic() + 20
        ended: list[Execution] = []
        while time.monotonic() < deadline:
            ended = [
                e
                for e in schedule.executions()
                if e.status.value in ("Completed", "CompletedWithViolations")
            ]
            if len(ended) >= 2:
                break
            time.sleep(0.3)
    finally:
        schedule.stop()
    assert len(ended) >= 2, [e.info for e in schedule.executions()]
    assert all(e.info.trigger == "schedule" for e in ended)
    oldest = sorted(ended, key=lambda e: e.number)
    for earlier, later in itertools.pairwise(oldest):
        if later.number == earlier.number + 1:
            assert later.info.window_start == earlier.info.window_end  # no gaps, no overlap
    count = len(schedule.executions())
    time.sleep(2.5)
    assert len(schedule.executions()) == count  # stopped: nothing more is queued
    schedule.delete()


# -- model quality --------------------------------------------------------------------
@dataclass
class Graded:
    window: Sent
    truth: np.ndarray
    predicted: np.ndarray
    execution: Execution


@pytest.fixture(scope="module")
def graded(live: Live) -> Graded:
    """Fresh rows sent half with the caller's inference ids, half without (by event id),
    their labels uploaded, and an execution over them."""
    rows = make_frame(120, seed=7)
    by_id = live.env.send(live.endpoint, rows.iloc[:60], batch=20, prefix="graded")
    by_event = live.env.send(live.endpoint, rows.iloc[60:], batch=20)
    window = (by_id[0], by_event[1], by_id[2] + by_event[2])
    labels = rows[LABEL].to_numpy()
    records = []
    for index, (event, _) in enumerate(window[2]):
        records.append(
            {"eventId": event, "groundTruth": labels[index * 20 : index * 20 + 20].tolist()}
        )
    result = live.endpoint.upload_ground_truth(records)
    assert result.records == len(records) == 6
    predicted = np.asarray([p for _, values in window[2] for p in values], dtype=np.float64)
    execution = run(live.schedule, window)
    return Graded(window, labels, predicted, execution)


def test_model_quality_matches_scikit_learn(live: Live, graded: Graded) -> None:
    quality = graded.execution.report.model_quality
    assert quality is not None and quality.problem_type == "regression"
    assert quality.rows == 120
    truth, predicted = graded.truth, graded.predicted
    assert quality.metrics["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted))
    assert quality.metrics["rmse"] == pytest.approx(
        float(np.sqrt(sk.mean_squared_error(truth, predicted)))
    )
    assert quality.metrics["r2"] == pytest.approx(sk.r2_score(truth, predicted))

    bound = live.env.client.baselines.get("exam-base").constraints.model_quality["rmse"].max
    assert bound is not None
    flagged = ("model_quality_check", "rmse") in checks(graded.execution)
    assert flagged == (quality.metrics["rmse"] > bound)
    rows = live.schedule.model_quality()
    assert any(r["execution"] == graded.execution.number and r["rows"] == 120 for r in rows)

    # Tighter bounds turn the same window into a model-quality violation.
    baseline = live.env.client.baselines.create("exam-graded", "exam", split="train")
    tight = baseline.constraints.model_copy(deep=True)
    tight.model_quality = {
        "rmse": MetricBound(max=quality.metrics["rmse"] / 2),
        "r2": MetricBound(min=0.9999),
    }
    baseline.update_constraints(tight)
    schedule = live.env.client.monitoring_schedules.create(
        "graded-watch", "exam-live", "exam-graded", problem_type="regression"
    )
    execution = run(schedule, graded.window)
    assert execution.report.model_quality is not None
    assert execution.report.model_quality.metrics == pytest.approx(quality.metrics)
    assert {("model_quality_check", "rmse"), ("model_quality_check", "r2")} <= checks(execution)
    schedule.delete()


def test_malformed_ground_truth_is_rejected_whole(live: Live, graded: Graded) -> None:
    http = live.env.http
    path = "/api/v1/endpoints/exam-live/ground-truth"
    files = live.env.ground_truth_files("exam-live")
    first_id = graded.window[2][0][0]
    wrong = orjson.dumps({"eventId": first_id, "groundTruth": [1e6] * 20})
    bad_uploads = [
        b"{not json",
        b"",
        orjson.dumps({"groundTruth": 3.0}),
        orjson.dumps({"eventId": 12, "groundTruth": 3.0}),
        orjson.dumps({"eventId": "x", "groundTruth": "a lot"}),
        orjson.dumps({"eventId": "x", "groundTruth": []}),
        orjson.dumps({"eventId": "x"}),
        wrong + b"\n" + orjson.dumps({"eventId": "y", "groundTruth": "NaN"}),
        wrong + b"\n" + b"[1, 2",
        orjson.dumps([orjson.loads(wrong), {"eventId": "y"}]),
    ]
    for body in bad_uploads:
        answer = http.post(path, content=body, headers={"Content-Type": "application/jsonlines"})
        assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.text)
        assert answer.json()["error"]["message"]
    elsewhere = http.post(
        "/api/v1/endpoints/no-such-endpoint/ground-truth",
        content=orjson.dumps({"eventId": "x", "groundTruth": 1.0}),
        headers={"Content-Type": "application/jsonlines"},
    )
    assert elsewhere.status_code == 404, elsewhere.text
    assert live.env.ground_truth_files("exam-live") == files
    assert live.env.ground_truth_files("no-such-endpoint") == []

    again = run(live.schedule, graded.window)
    quality = again.report.model_quality
    assert quality is not None and quality.rows == 120
    assert quality.metrics == pytest.approx(graded.execution.report.model_quality.metrics)
