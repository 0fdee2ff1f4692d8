"""Built-in algorithms run as training jobs on platform datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import opensage


def test_xgboost_job_on_a_dataset(trainer: opensage.Client, regression_dataset: str) -> None:
    job = trainer.training_jobs.create(
        "xgb",
        algorithm="xgboost",
        hyperparameters={
            "num_round": 30,
            "max_depth": 3,
            "eta": 0.3,
            "objective": "reg:squarederror",
        },
        channels={
            "train": f"{regression_dataset}:train",
            "validation": f"{regression_dataset}:validation",
        },
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    assert job.final_metrics["validation:rmse"] < 2.0  # the label's std is ~7.5
    series = job.metrics("validation:rmse")
    assert series["step"].tolist() == list(range(1, 31))
    assert series["value"].iloc[-1] < series["value"].iloc[0]
    model_dir = Path(job.model_artifact_url or "")
    assert (model_dir / "xgboost-model.ubj").is_file()
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["algorithm"] == "xgboost"
    assert manifest["feature_names"] == ["a", "b", "c"]
    assert manifest["label"] == "y"


def test_bad_hyperparameters_and_channels_are_rejected_at_submit(
    trainer: opensage.Client, regression_dataset: str
) -> None:
    train = {"train": f"{regression_dataset}:train"}
    with pytest.raises(opensage.InvalidInput) as bad:
        trainer.training_jobs.create(
            "x",
            algorithm="xgboost",
            hyperparameters={"num_round": 10, "max_depth": "deep"},
            channels=train,
        )
    assert bad.value.field == "hyperparameters.max_depth"
    with pytest.raises(opensage.InvalidInput) as unknown:
        trainer.training_jobs.create(
            "x", algorithm="xgboost", hyperparameters={"num_round": 10, "depth": 3}, channels=train
        )
    assert unknown.value.field == "hyperparameters.depth"
    with pytest.raises(opensage.InvalidInput, match="needs the channel"):
        trainer.training_jobs.create("x", algorithm="xgboost", hyperparameters={"num_round": 10})
    with pytest.raises(opensage.InvalidInput, match="does not read the channel"):
        trainer.training_jobs.create(
            "x",
            algorithm="xgboost",
            hyperparameters={"num_round": 10},
            channels={**train, "extra": f"{regression_dataset}:train"},
        )
    assert trainer.training_jobs.list() == []


@pytest.mark.parametrize(
    ("algorithm", "hyperparameters", "metric"),
    [
        ("lightgbm", {"num_boost_round": 30, "objective": "regression"}, "validation:rmse"),
        ("linear-learner", {"predictor_type": "regressor", "epochs": 10}, "validation:rmse"),
        ("random-forest", {"predictor_type": "regressor", "num_trees": 30}, "validation:rmse"),
        ("knn", {"k": 5, "predictor_type": "regressor", "sample_size": 300}, "validation:rmse"),
        ("kmeans", {"k": 3}, "validation:msd"),
        ("pca", {"num_components": 2}, "validation:explained_variance_ratio"),
        ("random-cut-forest", {"num_trees": 50, "num_samples_per_tree": 64}, None),
    ],
)
def test_every_builtin_runs_as_a_job_on_a_platform_dataset(
    trainer: opensage.Client,
    regression_dataset: str,
    algorithm: str,
    hyperparameters: dict[str, object],
    metric: str | None,
) -> None:
    job = trainer.training_jobs.create(
        f"job-{algorithm}",
        algorithm=algorithm,
        hyperparameters=hyperparameters,
        channels={
            "train": f"{regression_dataset}:train",
            "validation": f"{regression_dataset}:validation",
        },
    ).wait(timeout=120)
    assert job.status.value == "Completed", job.failure_reason
    model_dir = Path(job.model_artifact_url or "")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["algorithm"] == algorithm
    assert manifest["feature_names"] == ["a", "b", "c"]
    if metric is not None:
        assert metric in job.final_metrics, job.final_metrics
    if metric == "validation:rmse":
        assert job.final_metrics[metric] < 4.0  # the label's std is ~7.5
