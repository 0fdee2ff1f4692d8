"""K-means, as SageMaker's built-in: streaming mini-batch k-means, then a local Lloyd step.

Like SageMaker, each epoch streams the training data in mini-batches through
``k * extra_center_factor`` centers; the final model comes from running Lloyd's k-means
(``local_lloyd_*``) on those centers weighted by their counts, which is cheap and repairs
the mini-batch stage's poor local optima. After every epoch that reduction is done and
``train:msd`` (mean squared distance to the nearest center; ``ssd``: the sum) is reported,
and ``validation:msd`` when a validation channel is given. ``predict`` returns the index
of the nearest center.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from sklearn.cluster import KMeans as LloydKMeans
from sklearn.cluster import MiniBatchKMeans

from opensage.algorithms.artifacts import (
    SkopsModel,
    load_skops_model,
    save_sklearn_model,
)
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import TrainingData, read_training_data, require_finite
from opensage.algorithms.hyperparameters import (
    PositiveIntOrAuto,
    check_feature_dim,
    invalid_hyperparameter,
    json_list,
)
from opensage.algorithms.metrics import report
from opensage.algorithms.threads import limit_threads

_INIT = {"random": "random", "kmeans++": "k-means++"}


class KMeansHyperparameters(Hyperparameters):
    """SageMaker k-means' hyperparameters (``feature_dim`` optional: read from the data)."""

    k: int = Field(ge=1)
    feature_dim: int | None = Field(None, ge=1)
    epochs: int = Field(1, ge=1)
    mini_batch_size: int = Field(5000, ge=1)
    init_method: Literal["random", "kmeans++"] = "random"
    extra_center_factor: PositiveIntOrAuto = None
    eval_metrics: Annotated[list[str], json_list(("msd", "ssd"))] = Field(
        default_factory=lambda: ["msd"]
    )
    local_lloyd_init_method: Literal["random", "kmeans++"] = "kmeans++"
    local_lloyd_max_iter: int = Field(300, ge=1)
    local_lloyd_tol: float = Field(0.0001, ge=0)
    local_lloyd_num_trials: PositiveIntOrAuto = None


class KMeans(Algorithm):
    """Clustering into ``k`` groups by squared Euclidean distance."""

    name = "kmeans"
    hyperparameters = KMeansHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        return "clustering"

    def metric_names(self, params: Hyperparameters) -> list[str]:
        assert isinstance(params, KMeansHyperparameters)
        return list(params.eval_metrics)

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, KMeansHyperparameters)
        data = read_training_data(context, labelled=False)
        require_finite(data, self.name)
        features = data.train.features
        check_feature_dim(params.feature_dim, features.shape[1])
        if params.k > features.shape[0]:
            invalid_hyperparameter(
                "k", f"is {params.k} but the train channel has only {features.shape[0]} rows"
            )
        # SageMaker's "auto" grows the extra centers with k; capped so they fit the data.
        factor = params.extra_center_factor or max(2, math.ceil(math.log(params.k + 1)))
        centers = min(params.k * factor, features.shape[0])
        # partial_fit needs at least as many rows as centers in its first batch.
        batch = min(max(params.mini_batch_size, centers), features.shape[0])
        streaming = MiniBatchKMeans(
            n_clusters=centers,
            init=_INIT[params.init_method],
            batch_size=batch,
            random_state=0,
            n_init=1,
        )
        rng = np.random.default_rng(0)
        metrics: dict[str, float] = {}
        model: LloydKMeans | None = None
        with limit_threads(context.num_cpus):
            for epoch in range(1, params.epochs + 1):
                order = rng.permutation(features.shape[0])
                for start in range(0, len(order), batch):
                    streaming.partial_fit(features[order[start : start + batch]])
                model = self._reduce(params, streaming, features)
                metrics = self._report_epoch(context, params, model, data, epoch)
        assert model is not None
        save_sklearn_model(
            model,
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type="clustering",
            data=data,
            metrics=metrics,
            prediction="cluster",
        )

    @staticmethod
    def _reduce(
        params: KMeansHyperparameters, streaming: MiniBatchKMeans, features: np.ndarray
    ) -> LloydKMeans:
        """Lloyd's k-means on the streaming centers, weighted by how many rows each holds."""
        counts = np.bincount(streaming.predict(features), minlength=streaming.n_clusters)
        held = counts > 0
        centers, weights = streaming.cluster_centers_[held], counts[held].astype(np.float64)
        if len(centers) < params.k:  # some streaming centers are empty: keep them all
            centers, weights = streaming.cluster_centers_, np.maximum(counts, 1.0)
        return LloydKMeans(
            n_clusters=params.k,
            init=_INIT[params.local_lloyd_init_method],
            n_init=params.local_lloyd_num_trials or 10,
            max_iter=params.local_lloyd_max_iter,
            tol=params.local_lloyd_tol,
            random_state=0,
        ).fit(centers, sample_weight=weights)

    @staticmethod
    def _report_epoch(
        context: TrainingContext,
        params: KMeansHyperparameters,
        model: LloydKMeans,
        data: TrainingData,
        epoch: int,
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for channel, table in (("train", data.train), ("validation", data.validation)):
            if table is None:
                continue
            distances = squared_distances(model, table.features)
            values = {"msd": float(distances.mean()), "ssd": float(distances.sum())}
            chosen = {name: values[name] for name in params.eval_metrics}
            metrics.update(report(context, channel, chosen, step=epoch))
        return metrics

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        return np.asarray(model.estimator.predict(features), dtype=np.float64)


def squared_distances(model: Any, features: np.ndarray) -> np.ndarray:
    """Each row's squared Euclidean distance to its nearest center."""
    nearest: np.ndarray = np.asarray(model.transform(features), dtype=np.float64).min(axis=1)
    return nearest**2
