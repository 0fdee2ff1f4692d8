"""A tuning job that cannot work is refused at submit with a 4xx naming the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import opensage
from tests.tuning.conftest import objective_script

RANGES = {"eta": {"type": "continuous", "min": 0.05, "max": 0.5}}


def xgboost_search(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "search",
        "training_job_definition": {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 5},
            "channels": {
                "train": {"dataset": "reg", "split": "train"},
                "validation": {"dataset": "reg", "split": "validation"},
            },
        },
        "parameter_ranges": RANGES,
        "objective": {"metric": "validation:rmse", "type": "minimize"},
        "strategy": "bayesian",
        "max_trials": 4,
    }
    for key, value in changes.items():
        if key.startswith("definition."):
            body["training_job_definition"][key.removeprefix("definition.")] = value
        else:
            body[key] = value
    return body


@pytest.fixture
def api(tuner: opensage.Client, tuner_http: TestClient, tmp_path: Path) -> TestClient:
    """The raw HTTP client, with a small regression dataset ``reg`` (train/validation)."""
    rows = "\n".join(f"{i % 7},{i % 5},{2 * (i % 7) - (i % 5)}" for i in range(200))
    path = tmp_path / "reg.csv"
    path.write_text("a,b,y\n" + rows + "\n")
    tuner.datasets.create(path, name="reg", label="y", splits={"train": 0.8, "validation": 0.2})
    return tuner_http


@pytest.mark.parametrize(
    ("changes", "status", "field", "words"),
    [
        pytest.param(
            {"parameter_ranges": {"eta": {"type": "continuous", "min": 0.5, "max": 0.1}}},
            422, "parameter_ranges.eta.continuous", "min (0.5) is greater than max (0.1)",
            id="min-above-max",
        ),
        pytest.param(
            {"parameter_ranges": {"eta": {"type": "continuous", "min": 0, "max": 1,
                                          "scaling": "logarithmic"}}},
            422, "parameter_ranges.eta.continuous", "logarithmic scaling needs min > 0",
            id="log-from-zero",
        ),
        pytest.param(
            {"parameter_ranges": {"max_depth": {"type": "integer", "min": 1, "max": 5,
                                                "scaling": "reverse_logarithmic"}}},
            422, "parameter_ranges.max_depth.integer", "applies to continuous ranges only",
            id="reverse-log-integers",
        ),
        pytest.param(
            {"parameter_ranges": {"booster": {"type": "categorical",
                                              "values": [True, "true"]}}},
            422, "parameter_ranges.booster.categorical", "distinct",
            id="categorical-values-equal-as-strings",
        ),
        pytest.param(
            {"parameter_ranges": {"not_a_knob": {"type": "integer", "min": 1, "max": 3}}},
            422, "parameter_ranges.not_a_knob", "not_a_knob",
            id="unknown-hyperparameter",
        ),
        pytest.param(
            {"parameter_ranges": {"max_depth": {"type": "integer", "min": -3, "max": 3}}},
            422, "parameter_ranges.max_depth", "greater than or equal to 0",
            id="range-outside-what-the-algorithm-takes",
        ),
        pytest.param(
            {"objective": {"metric": "validation:auc"}},
            422, "objective.metric", "never emits 'validation:auc'",
            id="objective-never-emitted",
        ),
        pytest.param(
            {"objective": {"metric": "validation:rmse"},
             "definition.channels": {"train": {"dataset": "reg", "split": "train"}}},
            422, "objective.metric", "never emits 'validation:rmse'",
            id="objective-needs-a-channel-the-job-lacks",
        ),
        pytest.param(
            {"strategy": "grid"},
            422, "parameter_ranges.eta", "grid search takes categorical and integer ranges",
            id="grid-over-a-continuous-range",
        ),
        pytest.param(
            {"max_trials": None},
            422, "max_trials", "max_trials is required for bayesian search",
            id="no-budget",
        ),
        pytest.param(
            {"definition.hyperparameters": {"num_round": 5, "eta": 0.1}},
            422, "parameter_ranges.eta", "both static and searched",
            id="static-and-searched",
        ),
        pytest.param(
            {"definition.algorithm": "no-such-algorithm"},
            422, "training_job_definition.algorithm", "no-such-algorithm",
            id="unknown-algorithm",
        ),
        pytest.param(
            {"definition.channels": {"train": {"dataset": "missing"}}},
            422, "training_job_definition.channels.train", "missing",
            id="missing-dataset",
        ),
        pytest.param(
            {"warm_start_from": ["never-ran"]},
            422, "warm_start_from", "does not exist",
            id="warm-start-from-nothing",
        ),
        pytest.param(
            {"name": "n" * 60},
            422, "name", "at most 58 characters",
            id="name-too-long-for-trial-names",
        ),
    ],
)  # fmt: skip
def test_a_broken_search_is_refused_at_submit(
    api: TestClient, changes: dict[str, Any], status: int, field: str, words: str
) -> None:
    response = api.post("/api/v1/tuning-jobs", json=xgboost_search(**changes))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"].startswith(field), error
    assert words in error["message"], error
    assert api.get("/api/v1/tuning-jobs").json()["items"] == []


def test_a_duplicate_name_conflicts_and_a_good_search_is_accepted(api: TestClient) -> None:
    first = api.post("/api/v1/tuning-jobs", json=xgboost_search())
    assert first.status_code == 201, first.text
    assert first.json()["status"] in ("Pending", "InProgress")
    again = api.post("/api/v1/tuning-jobs", json=xgboost_search())
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "name"


def test_warm_start_needs_an_ended_search_with_the_same_objective(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = objective_script(tmp_path, "x", sleep=30)
    common: dict[str, Any] = {
        "script": script,
        "metric_definitions": [{"name": "loss", "regex": r"loss=([-0-9.eE+]+)"}],
        "parameter_ranges": {"x": {"type": "continuous", "min": 0, "max": 1}},
        "strategy": "random",
        "max_trials": 1,
    }
    running = tuner.tuning_jobs.create("running", objective="loss", **common)
    with pytest.raises(opensage.InvalidInput, match="still") as still:
        tuner.tuning_jobs.create("child", objective="loss", warm_start_from=["running"], **common)
    assert still.value.field == "warm_start_from"
    running.stop().wait(timeout=60)
    with pytest.raises(opensage.InvalidInput, match="maximize") as other:
        tuner.tuning_jobs.create(
            "child", objective="loss", objective_type="maximize",
            warm_start_from=["running"], **common,
        )  # fmt: skip
    assert other.value.field == "warm_start_from"
