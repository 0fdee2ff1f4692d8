"""PCA, as SageMaker's built-in: ``num_components`` principal components; predict projects.

``algorithm_mode`` ``regular`` computes the exact decomposition, ``randomized`` an
approximate one with ``extra_components`` oversampling (-1: max(10, num_components)).
With ``subtract_mean`` false the data is not centred (a truncated SVD), as in SageMaker.
Reported once: ``explained_variance_ratio`` (share of the channel's variance the
components keep) and ``reconstruction_mse`` (mean squared error of projecting and
mapping back), for train and validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.decomposition import TruncatedSVD

from opensage.algorithms.artifacts import (
    SkopsModel,
    load_skops_model,
    save_sklearn_model,
)
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import read_training_data, require_finite
from opensage.algorithms.hyperparameters import check_feature_dim, invalid_hyperparameter
from opensage.algorithms.metrics import report
from opensage.algorithms.threads import limit_threads

METRICS = ("explained_variance_ratio", "reconstruction_mse")


class PCAHyperparameters(Hyperparameters):
    """SageMaker PCA's hyperparameters (``feature_dim``/``mini_batch_size`` optional)."""

    num_components: int = Field(ge=1)
    algorithm_mode: Literal["regular", "randomized"] = "regular"
    subtract_mean: bool = True
    extra_components: int = Field(-1, ge=-1)
    feature_dim: int | None = Field(None, ge=1)
    mini_batch_size: int = Field(500, ge=1, description="Accepted; the fit uses all rows.")


class PCA(Algorithm):
    """Principal component analysis: a linear projection keeping the most variance."""

    name = "pca"
    hyperparameters = PCAHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        return "dimensionality"

    def metric_names(self, params: Hyperparameters) -> list[str]:
        return list(METRICS)

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, PCAHyperparameters)
        data = read_training_data(context, labelled=False)
        require_finite(data, self.name)
        rows, columns = data.train.features.shape
        check_feature_dim(params.feature_dim, columns)
        if params.num_components > min(rows, columns):
            invalid_hyperparameter(
                "num_components",
                f"is {params.num_components} but the train channel has {rows} rows "
                f"and {columns} features",
            )
        oversamples = (
            max(10, params.num_components)
            if params.extra_components == -1
            else params.extra_components
        )
        model: SklearnPCA | TruncatedSVD
        if params.subtract_mean:
            model = SklearnPCA(
                n_components=params.num_components,
                svd_solver="full" if params.algorithm_mode == "regular" else "randomized",
                n_oversamples=max(oversamples, 1),
                random_state=0,
            )
        else:
            model = TruncatedSVD(
                n_components=params.num_components,
                algorithm="randomized",
                n_oversamples=max(oversamples, 1),
                # Regular mode: enough power iterations to be exact for practical purposes.
                n_iter=25 if params.algorithm_mode == "regular" else 5,
                random_state=0,
            )
        metrics: dict[str, float] = {}
        with limit_threads(context.num_cpus):
            model.fit(data.train.features)
            for channel, table in (("train", data.train), ("validation", data.validation)):
                if table is not None:
                    values = reconstruction_metrics(model, table.features, params.subtract_mean)
                    metrics.update(report(context, channel, values, step=None))
        save_sklearn_model(
            model,
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type="dimensionality",
            data=data,
            metrics=metrics,
            prediction="projection",
        )

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        return np.asarray(model.estimator.transform(features), dtype=np.float64)


def reconstruction_metrics(model: Any, features: np.ndarray, centred: bool) -> dict[str, float]:
    """How much of ``features`` the components keep: variance share and reconstruction MSE."""
    restored = model.inverse_transform(model.transform(features))
    error = float(np.mean((features - restored) ** 2))
    reference = features - features.mean(axis=0) if centred else features
    total = float(np.mean(reference**2))
    return {
        "explained_variance_ratio": 1.0 - error / total if total > 0 else 1.0,
        "reconstruction_mse": error,
    }
