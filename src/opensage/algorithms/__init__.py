"""The built-in algorithms, by SageMaker-ish name, loaded on first use.

Every built-in obeys one contract (:class:`~opensage.algorithms.base.Algorithm`):
hyperparameters as SageMaker passes them (strings, SageMaker's names and defaults),
channels in the SageMaker workspace layout (platform Parquet datasets or SageMaker CSV,
see :mod:`opensage.algorithms.data`), a model in a safe format (XGBoost JSON, LightGBM
text, skops) plus ``manifest.json``, metrics as ``train:<name>`` / ``validation:<name>``.

What ``predict`` returns, by problem type (the manifest's ``prediction`` says it too):

============== ======================================================================
regression     ``(n,)`` predicted values
binary         ``(n,)`` probability of the positive class (``classes[1]``)
multiclass     ``(n, k)`` class probabilities, column ``j`` = ``classes[j]``
clustering     ``(n,)`` index of the nearest cluster center
dimensionality ``(n, num_components)`` projection
anomaly        ``(n,)`` anomaly score, higher = more anomalous
============== ======================================================================

XGBoost returns what XGBoost returns for its ``objective`` (the table holds for its
default ``binary:logistic`` / ``multi:softprob``; ``multi:softmax`` gives class indices).

The registry maps names to ``module:Class`` so that ``import opensage`` does not import
xgboost, lightgbm or scikit-learn; an algorithm's module is imported when first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from opensage.algorithms.base import (
    Algorithm,
    Hyperparameters,
    ProblemType,
    TabularData,
    TrainingContext,
    log_metric,
    read_manifest,
    write_manifest,
)
from opensage.errors import InvalidInput

_BUILTINS: dict[str, str] = {
    "xgboost": "opensage.algorithms.xgboost:XGBoost",
    "lightgbm": "opensage.algorithms.lightgbm:LightGBM",
    "linear-learner": "opensage.algorithms.linear_learner:LinearLearner",
    "random-forest": "opensage.algorithms.random_forest:RandomForest",
    "kmeans": "opensage.algorithms.kmeans:KMeans",
    "pca": "opensage.algorithms.pca:PCA",
    "knn": "opensage.algorithms.knn:KNN",
    "random-cut-forest": "opensage.algorithms.random_cut_forest:RandomCutForest",
}


class _Registry(Mapping[str, Algorithm]):
    """A read-only name → algorithm mapping that imports each algorithm when first read."""

    def __init__(self, targets: dict[str, str]) -> None:
        self._targets = targets
        self._loaded: dict[str, Algorithm] = {}

    def __getitem__(self, name: str) -> Algorithm:
        if name not in self._loaded:
            module_name, class_name = self._targets[name].split(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            self._loaded[name] = cls()
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets


ALGORITHMS: Mapping[str, Algorithm] = _Registry(_BUILTINS)
"""Every built-in algorithm by name (``"xgboost"``, ``"linear-learner"`` ...)."""


def get_algorithm(name: str) -> Algorithm:
    """The built-in called ``name``; ``InvalidInput`` (field ``algorithm``) lists the known ones."""
    if name not in ALGORITHMS:
        raise InvalidInput(
            f"unknown algorithm {name!r}; built-ins are: {', '.join(sorted(ALGORITHMS))}",
            field="algorithm",
        )
    return ALGORITHMS[name]


__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "Hyperparameters",
    "ProblemType",
    "TabularData",
    "TrainingContext",
    "get_algorithm",
    "log_metric",
    "read_manifest",
    "write_manifest",
]
