"""LightGBM, as SageMaker's built-in: its hyperparameter names and defaults.

SageMaker picks the objective from the data; here ``objective`` (LightGBM's own name,
default ``regression``) says it, because the platform must know the problem type and the
metric names before the job reads any data (a tuning objective is checked up front).
Per round it reports LightGBM's metrics (``train:rmse``, ``validation:binary_logloss``
...), then the platform's common metrics once at the end. The model is LightGBM's native
text format, cut at the best round when early stopping is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
from pydantic import Field, model_validator

from opensage.algorithms.artifacts import model_file, write_model_manifest
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import (
    EncodedLabels,
    class_labels,
    read_training_data,
    regression_labels,
)
from opensage.algorithms.hyperparameters import invalid_hyperparameter
from opensage.algorithms.metrics import evaluation_metric_names, report, report_final
from opensage.errors import InvalidInput

MODEL_FILE = "lightgbm-model.txt"

Objective = Literal[
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
    "binary",
    "multiclass",
    "multiclassova",
]
Metric = Literal[
    "auto",
    "rmse",
    "l1",
    "l2",
    "huber",
    "fair",
    "binary_logloss",
    "binary_error",
    "auc",
    "average_precision",
    "multi_logloss",
    "multi_error",
    "auc_mu",
    "cross_entropy",
]


class LightGBMHyperparameters(Hyperparameters):
    """SageMaker LightGBM's hyperparameters, plus ``objective``/``num_class``/``seed``."""

    num_boost_round: int = Field(100, ge=1)
    early_stopping_rounds: int = Field(10, description="<= 0 turns early stopping off.")
    metric: Metric = "auto"
    learning_rate: float = Field(0.1, gt=0, lt=1)
    num_leaves: int = Field(64, gt=1, le=131072)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    bagging_fraction: float = Field(0.9, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    max_depth: int = Field(6, description="<= 0 means no limit.")
    min_data_in_leaf: int = Field(3, ge=0)
    max_delta_step: float = 0.0
    lambda_l1: float = Field(0.0, ge=0)
    lambda_l2: float = Field(0.0, ge=0)
    boosting: Literal["gbdt", "dart", "rf"] = "gbdt"
    min_gain_to_split: float = Field(0.0, ge=0)
    scale_pos_weight: float = Field(1.0, gt=0)
    is_unbalance: bool = False
    max_bin: int = Field(255, gt=1)
    objective: Objective = "regression"
    num_class: int | None = Field(None, ge=2, description="Required for multiclass objectives.")
    seed: int = 0
    verbosity: int = -1

    @model_validator(mode="after")
    def _consistent(self) -> LightGBMHyperparameters:
        if self.objective.startswith("multiclass") and self.num_class is None:
            invalid_hyperparameter("num_class", f"is required when objective is {self.objective}")
        if self.is_unbalance and self.scale_pos_weight != 1.0:
            invalid_hyperparameter("is_unbalance", "cannot be combined with scale_pos_weight")
        return self


class LightGBM(Algorithm):
    """Gradient-boosted trees (LightGBM) for regression, binary and multiclass classification."""

    name = "lightgbm"
    hyperparameters = LightGBMHyperparameters
    _AUTO_METRIC: ClassVar[dict[str, str]] = {
        "regression": "rmse",
        "binary": "binary_logloss",
        "multiclass": "multi_logloss",
    }

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        assert isinstance(params, LightGBMHyperparameters)
        if params.objective == "binary":
            return "binary"
        if params.objective.startswith("multiclass"):
            return "multiclass"
        return "regression"

    def _metric(self, params: LightGBMHyperparameters) -> str:
        if params.metric == "auto":
            return self._AUTO_METRIC[self.problem_type(params)]
        return params.metric

    def metric_names(self, params: Hyperparameters) -> list[str]:
        assert isinstance(params, LightGBMHyperparameters)
        names = [self._metric(params), *evaluation_metric_names(self.problem_type(params))]
        return list(dict.fromkeys(names))

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, LightGBMHyperparameters)
        problem_type = self.problem_type(params)
        data = read_training_data(context, labelled=True)
        labels: EncodedLabels
        if problem_type == "regression":
            labels = regression_labels(data)
        else:
            expected = params.num_class if problem_type == "multiclass" else 2
            field = "num_class" if problem_type == "multiclass" else "objective"
            labels = class_labels(data, expected, field=field)

        train_set = lgb.Dataset(data.train.features, label=labels.train, free_raw_data=False)
        valid_sets, valid_names = [train_set], ["train"]
        if data.validation is not None:
            valid_sets.append(train_set.create_valid(data.validation.features, labels.validation))
            valid_names.append("validation")
        history: dict[str, list[float]] = {}

        def report_round(env: Any) -> None:
            for channel, metric, value, _ in env.evaluation_result_list:
                history.setdefault(f"{channel}:{metric}", []).append(float(value))
                report(context, channel, {metric: float(value)}, step=env.iteration + 1)

        callbacks: list[Any] = [report_round]
        early_stopping = data.validation is not None and params.early_stopping_rounds > 0
        if early_stopping:
            callbacks.append(lgb.early_stopping(params.early_stopping_rounds, verbose=False))
        try:
            booster = lgb.train(
                self._library_params(params, context.num_cpus),
                train_set,
                num_boost_round=params.num_boost_round,
                valid_sets=valid_sets,
                valid_names=valid_names,
                callbacks=callbacks,
            )
        except lgb.basic.LightGBMError as exc:
            raise InvalidInput(
                f"lightgbm rejected the job: {str(exc).splitlines()[0]}", field="hyperparameters"
            ) from None
        rounds = booster.best_iteration if early_stopping and booster.best_iteration > 0 else 0
        rounds = rounds or booster.current_iteration()

        final = report_final(
            context,
            problem_type,
            lambda features: np.asarray(booster.predict(features, num_iteration=rounds)),
            data,
            labels,
            step=rounds,
            already_reported=history,
        )
        final.update({name: values[rounds - 1] for name, values in history.items()})
        context.model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(context.model_dir / MODEL_FILE, num_iteration=rounds)
        write_model_manifest(
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type=problem_type,
            data=data,
            model_file=MODEL_FILE,
            model_format="lightgbm-text",
            metrics=final,
            prediction={
                "regression": "value",
                "binary": "positive_probability",
                "multiclass": "class_probabilities",
            }[problem_type],
            classes=labels.classes,
            rounds=rounds,
        )

    def _library_params(self, params: LightGBMHyperparameters, num_cpus: int) -> dict[str, Any]:
        library = params.model_dump(
            exclude={"num_boost_round", "early_stopping_rounds", "num_class", "scale_pos_weight"}
        )
        library["metric"] = self._metric(params)
        if params.num_class is not None and params.objective.startswith("multiclass"):
            library["num_class"] = params.num_class
        if params.objective == "binary" and params.scale_pos_weight != 1.0:
            library["scale_pos_weight"] = params.scale_pos_weight
        library["num_threads"] = num_cpus
        return library

    def load(self, model_dir: Path) -> lgb.Booster:
        return lgb.Booster(model_file=model_file(model_dir))

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(np.asarray(features, dtype=np.float64)))
