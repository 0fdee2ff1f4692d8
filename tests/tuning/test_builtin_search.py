"""Searching a built-in algorithm: its per-round metrics feed early stopping, each trial
gets its CPU slots, and the best trial's model is at hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import opensage
from opensage import ContinuousRange, IntegerRange


def test_hyperband_over_xgboost(tuner: opensage.Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (2000, 3))
    y = 3 * x[:, 0] - 2 * x[:, 1] + np.sin(x[:, 2]) + rng.normal(0, 0.5, 2000)
    path = tmp_path / "reg.csv"
    pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y).to_csv(path, index=False)
    tuner.datasets.create(path, name="reg", label="y", splits={"train": 0.8, "validation": 0.2})
    job = tuner.tuning_jobs.create(
        "xgb-hyperband",
        algorithm="xgboost",
        hyperparameters={"num_round": 60},
        channels={"train": "reg:train", "validation": "reg:validation"},
        parameter_ranges={
            "eta": ContinuousRange(min=0.001, max=0.5, scaling="logarithmic"),
            "max_depth": IntegerRange(min=1, max=6),
        },
        objective="validation:rmse",
        strategy="hyperband",
        max_trials=8,
        max_parallel_trials=2,
        seed=0,
    ).wait(timeout=300)
    assert job.status.value == "Completed", job.info
    trials = job.trial_list()
    assert len(trials) == 8
    for trial in trials:
        training = tuner.training_jobs.get(trial.training_job_name)
        assert training.info.cpu_slots == 1
        assert training.info.hyperparameters["num_round"] == "60"
        assert trial.steps_reported > 0  # per-round validation:rmse reached the pruner
        if trial.status.value == "Completed":
            assert trial.objective_value == training.final_metrics["validation:rmse"]
    best = job.best_training_job()
    assert best.model_artifact_url is not None
    assert best.final_metrics["validation:rmse"] < 0.5 * float(np.std(y))
    assert set(job.parameter_importances()) == {"eta", "max_depth"}
