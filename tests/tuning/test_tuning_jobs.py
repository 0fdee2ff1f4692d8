"""Tuning jobs through the API: strategies, budgets, early stopping, completion criteria,
warm start, stop, and validation at submit."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import opensage
from opensage import CategoricalRange, ContinuousRange, IntegerRange
from tests.tuning.conftest import LOSS_METRIC, objective_script


def create(client: opensage.Client, name: str, script: Path, **options: Any) -> opensage.TuningJob:
    return client.tuning_jobs.create(
        name, script=script, metric_definitions=LOSS_METRIC, objective="loss", **options
    )


def max_overlap(jobs: list[opensage.TrainingJob]) -> int:
    """The most training jobs that were in progress at the same moment."""
    events: list[tuple[datetime, int]] = []
    for job in jobs:
        assert job.info.started_at is not None and job.info.ended_at is not None
        events += [(job.info.started_at, 1), (job.info.ended_at, -1)]
    running = peak = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):
        running += change
        peak = max(peak, running)
    return peak


def trial_jobs(client: opensage.Client, job: opensage.TuningJob) -> list[opensage.TrainingJob]:
    return [client.training_jobs.get(t.training_job_name) for t in job.trial_list()]


@pytest.mark.parametrize(
    ("strategy", "parallel"), [("bayesian", 2), ("random", 1), ("hyperband", 2)]
)
def test_each_strategy_runs_within_its_trial_budget_and_parallelism(
    tuner: opensage.Client, tmp_path: Path, strategy: str, parallel: int
) -> None:
    script = objective_script(tmp_path, "(x - 3) ** 2 + k", steps=3, sleep=0.05)
    job = create(
        tuner,
        f"search-{strategy}",
        script,
        parameter_ranges={
            "x": ContinuousRange(min=0, max=6),
            "k": IntegerRange(min=0, max=3),
        },
        strategy=strategy,
        max_trials=5,
        max_parallel_trials=parallel,
        seed=11,
        tags={"team": "exams"},
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.info
    assert job.info.completion_reason == "all 5 trials ran"
    trials = job.trial_list()
    assert [t.number for t in trials] == [1, 2, 3, 4, 5]
    counts = job.info.trial_counts
    assert counts.completed + counts.pruned == 5 and counts.failed == 0
    for trial in trials:
        assert 0 <= float(trial.hyperparameters["x"]) <= 6
        assert trial.hyperparameters["k"] in {0, 1, 2, 3}
    # Each trial is an ordinary training job, tagged with its tuning job.
    jobs = trial_jobs(tuner, job)
    for trial, training in zip(trials, jobs, strict=True):
        assert training.info.tags == {
            "team": "exams",
            "opensage:tuning-job": f"search-{strategy}",
            "opensage:trial": str(trial.number),
        }
        assert training.info.hyperparameters["k"] == str(trial.hyperparameters["k"])
        if trial.status.value == "Completed":
            expected = (float(trial.hyperparameters["x"]) - 3) ** 2 + trial.hyperparameters["k"]
            assert trial.objective_value == pytest.approx(expected)
    assert max_overlap(jobs) <= parallel
    # The best trial is the completed one with the lowest objective.
    best = job.info.best_trial
    assert best is not None
    completed = [t for t in trials if t.status.value == "Completed"]
    assert best.objective_value == min(t.objective_value or 0 for t in completed)
    assert job.best_training_job().name == best.training_job_name
    table = job.trials(sort_by_objective=True)
    assert list(table.columns[:4]) == ["number", "training_job_name", "status", "objective_value"]
    assert {"x", "k"} <= set(table.columns)
    assert table.iloc[0]["number"] == best.number
    importances = job.parameter_importances()
    assert set(importances) == {"x", "k"}
    assert sum(importances.values()) == pytest.approx(1.0)


def test_parallel_trials_do_run_side_by_side(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "x", steps=1, sleep=1.0)
    job = create(
        tuner,
        "side-by-side",
        script,
        parameter_ranges={"x": ContinuousRange(min=0, max=1)},
        strategy="random",
        max_trials=4,
        max_parallel_trials=2,
    ).wait(timeout=120)
    assert job.status.value == "Completed"
    assert max_overlap(trial_jobs(tuner, job)) == 2


def test_grid_search_covers_the_grid_exactly(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "depth * (1 if booster == 'gbtree' else 2)")
    job = create(
        tuner,
        "grid",
        script,
        parameter_ranges={
            "booster": CategoricalRange(values=["gbtree", "dart"]),
            "depth": IntegerRange(min=1, max=3),
        },
        strategy="grid",
        max_parallel_trials=2,
    )
    assert job.info.max_trials == 6  # the grid's size
    job.wait(timeout=120)
    assert job.status.value == "Completed"
    seen = sorted(
        (t.hyperparameters["booster"], t.hyperparameters["depth"]) for t in job.trial_list()
    )
    assert seen == sorted(itertools.product(["gbtree", "dart"], [1, 2, 3]))
    assert job.info.best_trial is not None
    assert job.info.best_trial.hyperparameters == {"booster": "gbtree", "depth": 1}


def test_log_scaled_ranges_are_sampled_on_the_log_scale(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = objective_script(tmp_path, "rate")
    job = create(
        tuner,
        "log-scale",
        script,
        parameter_ranges={"rate": ContinuousRange(min=1e-5, max=1.0, scaling="logarithmic")},
        strategy="random",
        max_trials=12,
        max_parallel_trials=2,
        seed=5,
    ).wait(timeout=120)
    rates = [float(t.hyperparameters["rate"]) for t in job.trial_list()]
    assert len(rates) == 12 and all(1e-5 <= r <= 1.0 for r in rates)
    # On a linear scale about 1 draw in 10 falls below 0.1; on a log scale 4 in 5 do.
    assert sum(r < 0.1 for r in rates) >= 7


def test_early_stopping_prunes_clearly_bad_trials(tuner: opensage.Client, tmp_path: Path) -> None:
    # Trials with x >= 8 are hopeless from their first step; the others all match.
    script = objective_script(tmp_path, "(100.0 if x >= 8 else 1.0) / step", steps=25, sleep=0.08)
    job = create(
        tuner,
        "prune",
        script,
        parameter_ranges={"x": IntegerRange(min=0, max=9)},
        strategy="grid",
        max_parallel_trials=2,
        early_stopping="auto",
        seed=2,
    ).wait(timeout=180)
    assert job.status.value == "Completed"
    trials = job.trial_list()
    pruned = [t for t in trials if t.status.value == "Pruned"]
    assert pruned, [(t.hyperparameters, t.status) for t in trials]
    for trial in pruned:
        assert trial.hyperparameters["x"] >= 8  # only bad trials are cut short
        assert 0 < trial.steps_reported < 25
        assert "not promising" in (trial.failure_reason or "")
        training = tuner.training_jobs.get(trial.training_job_name)
        assert training.status.value == "Stopped"
    others = [t for t in trials if t.hyperparameters["x"] < 8]
    assert all(t.status.value == "Completed" for t in others), [
        (t.number, t.hyperparameters, t.status, t.failure_reason, t.steps_reported) for t in others
    ]
    assert job.info.trial_counts.pruned == len(pruned)


def test_a_target_objective_value_ends_the_search_early(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = objective_script(tmp_path, "x")
    job = create(
        tuner,
        "target",
        script,
        parameter_ranges={"x": ContinuousRange(min=0, max=10)},
        strategy="random",
        max_trials=30,
        target_objective_value=5.0,
        seed=1,
    ).wait(timeout=120)
    assert job.status.value == "Completed"
    trials = job.trial_list()
    assert len(trials) < 30
    assert job.info.best_trial is not None and (job.info.best_trial.objective_value or 99) <= 5.0
    assert "reached the target objective value 5" in (job.info.completion_reason or "")


def test_trials_without_improvement_end_the_search(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "0.0 if x < 1 else 1.0 + x")
    job = create(
        tuner,
        "patience",
        script,
        parameter_ranges={"x": IntegerRange(min=0, max=50)},
        strategy="random",
        max_trials=40,
        max_trials_without_improvement=3,
        seed=4,
    ).wait(timeout=120)
    assert job.status.value == "Completed"
    assert len(job.trial_list()) < 40
    assert "did not improve" in (job.info.completion_reason or "")


def test_warm_start_reuses_earlier_results(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "(x - 2) ** 2")
    ranges = {"x": ContinuousRange(min=0, max=10)}
    first = create(
        tuner, "first", script, parameter_ranges=ranges, strategy="random", max_trials=4, seed=1
    ).wait(timeout=120)
    assert first.info.trial_counts.completed == 4
    second = create(
        tuner,
        "second",
        script,
        parameter_ranges=ranges,
        strategy="bayesian",
        max_trials=2,
        warm_start_from=["first"],
        seed=1,
    ).wait(timeout=120)
    assert second.status.value == "Completed"
    assert second.info.warm_start_from == ["first"]
    assert second.info.warm_start_trials == 4
    # Its own trials are its own: numbered from 1, named after it.
    assert [t.training_job_name for t in second.trial_list()] == ["second-001", "second-002"]


def test_stop_stops_every_running_trial(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "x", steps=1, sleep=60)
    job = create(
        tuner,
        "stopped",
        script,
        parameter_ranges={"x": ContinuousRange(min=0, max=1)},
        strategy="random",
        max_trials=10,
        max_parallel_trials=2,
    )
    deadline = time.monotonic() + 60
    while job.refresh().info.trial_counts.in_progress < 2:
        assert time.monotonic() < deadline, job.info.trial_counts
        time.sleep(0.1)
    assert job.stop().status.value == "Stopping"
    job.wait(timeout=60)
    assert job.status.value == "Stopped"
    assert job.info.completion_reason == "stopped by request"
    trials = job.trial_list()
    assert len(trials) == 2  # no trial started after the stop
    for trial in trials:
        assert trial.status.value == "Stopped"
        assert tuner.training_jobs.get(trial.training_job_name).status.value == "Stopped"
    with pytest.raises(opensage.Conflict):
        job.stop()
    job.delete()
    with pytest.raises(opensage.NotFound):
        tuner.training_jobs.get(trials[0].training_job_name)
    with pytest.raises(opensage.NotFound):
        tuner.tuning_jobs.get("stopped")


def test_a_search_whose_trials_keep_failing_fails_with_their_reason(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit('no data here')\n")
    job = create(
        tuner,
        "broken",
        script,
        parameter_ranges={"x": ContinuousRange(min=0, max=1)},
        strategy="random",
        max_trials=10,
    ).wait(timeout=120)
    assert job.status.value == "Failed", (job.info, job.trial_list())
    assert job.info.trial_counts.failed == 3
    assert "the first 3 trials failed" in (job.info.failure_reason or "")


def test_a_trial_that_never_reports_the_objective_fails(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = tmp_path / "silent.py"
    script.write_text("print('no metric here')\n")
    job = create(
        tuner,
        "silent",
        script,
        parameter_ranges={"x": ContinuousRange(min=0, max=1)},
        strategy="random",
        max_trials=1,
    ).wait(timeout=60)
    (trial,) = job.trial_list()
    assert trial.status.value == "Failed"
    assert "never reported the objective metric 'loss'" in (trial.failure_reason or "")


def test_list_filters_by_status_and_name(tuner: opensage.Client, tmp_path: Path) -> None:
    script = objective_script(tmp_path, "x")
    for name in ("alpha-search", "beta-search"):
        create(
            tuner,
            name,
            script,
            parameter_ranges={"x": ContinuousRange(min=0, max=1)},
            strategy="random",
            max_trials=1,
        ).wait(timeout=60)
    assert [j.name for j in tuner.tuning_jobs.list()] == ["beta-search", "alpha-search"]
    assert [j.name for j in tuner.tuning_jobs.list(name_contains="alpha")] == ["alpha-search"]
    assert tuner.tuning_jobs.list(status="InProgress") == []
    assert len(tuner.tuning_jobs.list(status="Completed", limit=1)) == 1


def test_trial_table_keeps_a_hyperparameter_named_like_a_column(
    tuner: opensage.Client, tmp_path: Path
) -> None:
    script = objective_script(tmp_path, "1.0")  # every trial scores the same
    job = create(
        tuner,
        "columns",
        script,
        parameter_ranges={"status": CategoricalRange(values=["a", "b"])},
        strategy="grid",
    ).wait(timeout=60)
    table = job.trials()
    assert list(table["status"]) == ["Completed", "Completed"]
    assert sorted(table["hyperparameter:status"]) == ["a", "b"]
    # A constant objective says nothing about which hyperparameter matters.
    assert job.parameter_importances() == {}
