"""k-nearest neighbours, as SageMaker's built-in: an index of sampled training points.

``sample_size`` training rows are drawn (without replacement) into the index; a query
takes its ``k`` nearest under ``index_metric`` (``L2`` or ``COSINE``). A regressor
predicts their mean label; a classifier predicts class probabilities (the share of
neighbours in each class; the manifest's ``classes`` names the columns), not SageMaker's
single label. Metrics are reported once; on train they are optimistic, as each point is
its own neighbour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from opensage.algorithms.artifacts import (
    SkopsModel,
    load_skops_model,
    save_sklearn_model,
)
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import (
    EncodedLabels,
    class_labels,
    read_training_data,
    regression_labels,
    require_finite,
)
from opensage.algorithms.hyperparameters import check_feature_dim, invalid_hyperparameter
from opensage.algorithms.metrics import evaluation_metric_names, report_final
from opensage.algorithms.probabilities import class_probabilities
from opensage.algorithms.threads import limit_threads

_METRIC = {"L2": "euclidean", "COSINE": "cosine"}


class KNNHyperparameters(Hyperparameters):
    """SageMaker k-NN's hyperparameters (``feature_dim`` optional: read from the data)."""

    k: int = Field(ge=1)
    predictor_type: Literal["classifier", "regressor"]
    sample_size: int = Field(ge=1)
    feature_dim: int | None = Field(None, ge=1)
    index_metric: Literal["L2", "COSINE"] = "L2"
    mini_batch_size: int = Field(5000, ge=1, description="Accepted; unused.")


class KNN(Algorithm):
    """Prediction from the ``k`` most similar training rows."""

    name = "knn"
    hyperparameters = KNNHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        assert isinstance(params, KNNHyperparameters)
        # The class count is known only from the data, so a classifier is "multiclass".
        return "regression" if params.predictor_type == "regressor" else "multiclass"

    def metric_names(self, params: Hyperparameters) -> list[str]:
        return evaluation_metric_names(self.problem_type(params))

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, KNNHyperparameters)
        problem_type = self.problem_type(params)
        data = read_training_data(context, labelled=True)
        require_finite(data, self.name)
        check_feature_dim(params.feature_dim, data.train.features.shape[1])
        labels: EncodedLabels
        if problem_type == "regression":
            labels = regression_labels(data)
        else:
            labels = class_labels(data, None, field="predictor_type")
        rows = data.train.features.shape[0]
        sample = np.random.default_rng(0).permutation(rows)[: params.sample_size]
        sample.sort()
        if params.k > len(sample):
            invalid_hyperparameter(
                "k", f"is {params.k} but the index holds only {len(sample)} training rows"
            )
        options: dict[str, Any] = {
            "n_neighbors": params.k,
            "metric": _METRIC[params.index_metric],
            "n_jobs": context.num_cpus,
        }
        model: KNeighborsRegressor | KNeighborsClassifier
        if problem_type == "regression":
            model = KNeighborsRegressor(**options)
        else:
            model = KNeighborsClassifier(**options)
        with limit_threads(context.num_cpus):
            model.fit(data.train.features[sample], labels.train[sample])
            metrics = report_final(
                context,
                problem_type,
                lambda features: _output(model, features, problem_type, labels.num_classes),
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
            prediction="value" if problem_type == "regression" else "class_probabilities",
            classes=labels.classes,
            index_size=len(sample),
        )

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        return _output(model.estimator, features, model.manifest["problem_type"], model.num_classes)


def _output(
    model: Any, features: np.ndarray, problem_type: ProblemType, num_classes: int
) -> np.ndarray:
    if problem_type == "regression":
        return np.asarray(model.predict(features), dtype=np.float64)
    proba = class_probabilities(model, features, num_classes)
    # Always one column per class, even with two classes ("multiclass" layout).
    return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba
