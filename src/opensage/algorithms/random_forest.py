"""Random forest (scikit-learn) for regression and classification; no SageMaker counterpart.

Hyperparameters follow the platform's other tabular learners: ``predictor_type`` as in
linear learner, ``num_trees`` as in random cut forest. Missing feature values are allowed
(scikit-learn's trees route them). Metrics are reported once, at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from opensage.algorithms.artifacts import (
    SkopsModel,
    load_skops_model,
    save_sklearn_model,
)
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import class_labels, read_training_data, regression_labels
from opensage.algorithms.hyperparameters import SupervisedPredictor
from opensage.algorithms.metrics import evaluation_metric_names, report_final
from opensage.algorithms.probabilities import class_probabilities
from opensage.algorithms.threads import limit_threads

_PROBLEM: dict[str, ProblemType] = {
    "regressor": "regression",
    "binary_classifier": "binary",
    "multiclass_classifier": "multiclass",
}


class RandomForestHyperparameters(Hyperparameters):
    """Random forest hyperparameters (scikit-learn's meaning, the platform's names)."""

    predictor_type: SupervisedPredictor
    num_classes: int | None = Field(
        None, ge=3, description="Multiclass only; default: from the labels."
    )
    num_trees: int = Field(100, ge=1, le=10000)
    max_depth: int = Field(0, ge=0, description="0 means no limit.")
    min_samples_leaf: int = Field(1, ge=1)
    max_features: Literal["auto", "sqrt", "log2", "all"] = Field(
        "auto", description="auto: sqrt for classifiers, all for regressors."
    )
    bootstrap: bool = True
    seed: int = 0


class RandomForest(Algorithm):
    """An ensemble of decision trees on bootstrap samples (scikit-learn)."""

    name = "random-forest"
    hyperparameters = RandomForestHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        assert isinstance(params, RandomForestHyperparameters)
        return _PROBLEM[params.predictor_type]

    def metric_names(self, params: Hyperparameters) -> list[str]:
        return evaluation_metric_names(self.problem_type(params))

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, RandomForestHyperparameters)
        problem_type = self.problem_type(params)
        data = read_training_data(context, labelled=True)
        common: dict[str, Any] = {
            "n_estimators": params.num_trees,
            "max_depth": params.max_depth or None,
            "min_samples_leaf": params.min_samples_leaf,
            "bootstrap": params.bootstrap,
            "random_state": params.seed,
            "n_jobs": context.num_cpus,
        }
        max_features = {"auto": None, "all": 1.0}.get(params.max_features, params.max_features)
        if max_features is not None:
            common["max_features"] = max_features
        model: RandomForestRegressor | RandomForestClassifier
        if problem_type == "regression":
            labels = regression_labels(data)
            model = RandomForestRegressor(**common)
        elif problem_type == "binary":
            labels = class_labels(data, 2, field="predictor_type")
            model = RandomForestClassifier(**common)
        else:
            labels = class_labels(data, params.num_classes, field="num_classes")
            model = RandomForestClassifier(**common)
        with limit_threads(context.num_cpus):
            model.fit(data.train.features, labels.train)
            metrics = report_final(
                context,
                problem_type,
                lambda features: self._output(model, features, problem_type, labels.num_classes),
                data,
                labels,
                step=None,
            )
        save_sklearn_model(
            model,
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type=problem_type,
            data=data,
            metrics=metrics,
            prediction={
                "regression": "value",
                "binary": "positive_probability",
                "multiclass": "class_probabilities",
            }[problem_type],
            classes=labels.classes,
        )

    @staticmethod
    def _output(
        model: Any, features: np.ndarray, problem_type: ProblemType, num_classes: int
    ) -> np.ndarray:
        if problem_type == "regression":
            return np.asarray(model.predict(features), dtype=np.float64)
        return class_probabilities(model, features, num_classes)

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        problem_type = model.manifest["problem_type"]
        return self._output(model.estimator, features, problem_type, model.num_classes)
