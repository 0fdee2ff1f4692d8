"""Random cut forest, as SageMaker's built-in: anomaly scores, higher = more anomalous.

Implemented with scikit-learn's isolation forest, the same idea (points that random cuts
isolate quickly are anomalies): ``num_trees`` trees, each built on
``num_samples_per_tree`` random rows. The score is the negated isolation score, so
higher means more anomalous, as with SageMaker's RCF (the scale differs). Reported:
``train:score_mean`` and ``train:score_std``; the manifest's ``score_threshold`` (mean + 3
standard deviations, SageMaker's rule of thumb) flags anomalies. A labelled validation
channel (1 = anomaly, like SageMaker's test channel; as CSV: ``text/csv;label_size=1``)
also gets ``validation:auc`` and, at that threshold, ``accuracy``, ``precision``,
``recall`` and ``f1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field
from sklearn.ensemble import IsolationForest
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from opensage.algorithms.artifacts import (
    SkopsModel,
    load_skops_model,
    save_sklearn_model,
)
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import read_training_data, require_finite
from opensage.algorithms.hyperparameters import check_feature_dim, json_list
from opensage.algorithms.metrics import report
from opensage.algorithms.threads import limit_threads


class RandomCutForestHyperparameters(Hyperparameters):
    """SageMaker RCF's hyperparameters, same ranges (``feature_dim`` optional)."""

    num_trees: int = Field(100, ge=50, le=1000)
    num_samples_per_tree: int = Field(256, ge=1, le=2048)
    feature_dim: int | None = Field(None, ge=1, le=10000)
    eval_metrics: Annotated[list[str], json_list(("accuracy", "precision_recall_fscore"))] = Field(
        default_factory=lambda: ["accuracy", "precision_recall_fscore"]
    )
    mini_batch_size: int = Field(1000, ge=1, description="Accepted; unused.")


class RandomCutForest(Algorithm):
    """Unsupervised anomaly detection: a score per record, higher = more anomalous."""

    name = "random-cut-forest"
    hyperparameters = RandomCutForestHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        return "anomaly"

    def metric_names(self, params: Hyperparameters) -> list[str]:
        assert isinstance(params, RandomCutForestHyperparameters)
        names = ["score_mean", "score_std", "auc"]
        if "accuracy" in params.eval_metrics:
            names.append("accuracy")
        if "precision_recall_fscore" in params.eval_metrics:
            names += ["precision", "recall", "f1"]
        return names

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, RandomCutForestHyperparameters)
        data = read_training_data(context, labelled=False)
        require_finite(data, self.name)
        check_feature_dim(params.feature_dim, data.train.features.shape[1])
        model = IsolationForest(
            n_estimators=params.num_trees,
            max_samples=min(params.num_samples_per_tree, data.train.features.shape[0]),
            n_jobs=context.num_cpus,
            random_state=0,
        )
        with limit_threads(context.num_cpus):
            model.fit(data.train.features)
            scores = anomaly_scores(model, data.train.features)
            threshold = float(scores.mean() + 3 * scores.std())
            metrics = report(
                context,
                "train",
                {"score_mean": float(scores.mean()), "score_std": float(scores.std())},
                step=None,
            )
            validation = data.validation
            if validation is not None and validation.labels is not None:
                values = self._labelled_metrics(
                    params,
                    validation.labels,
                    anomaly_scores(model, validation.features),
                    threshold,
                )
                metrics.update(report(context, "validation", values, step=None))
        save_sklearn_model(
            model,
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type="anomaly",
            data=data,
            metrics=metrics,
            prediction="anomaly_score",
            score_threshold=threshold,
        )

    @staticmethod
    def _labelled_metrics(
        params: RandomCutForestHyperparameters,
        labels: np.ndarray,
        scores: np.ndarray,
        threshold: float,
    ) -> dict[str, float]:
        truth = np.asarray(labels, dtype=np.float64) > 0
        flagged = scores > threshold
        values: dict[str, float] = {}
        if 0 < truth.sum() < len(truth):
            values["auc"] = float(roc_auc_score(truth, scores))
        if "accuracy" in params.eval_metrics:
            values["accuracy"] = float(np.mean(flagged == truth))
        if "precision_recall_fscore" in params.eval_metrics:
            precision, recall, f1, _ = precision_recall_fscore_support(
                truth, flagged, average="binary", zero_division=0.0
            )
            values.update(precision=float(precision), recall=float(recall), f1=float(f1))
        return values

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        return anomaly_scores(model.estimator, features)


def anomaly_scores(model: Any, features: np.ndarray) -> np.ndarray:
    """Anomaly score per row: higher = more anomalous (isolation forest's, negated)."""
    return -np.asarray(model.score_samples(features), dtype=np.float64)
