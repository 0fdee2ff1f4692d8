"""The evaluation metrics every built-in reports, computed one way for all of them.

Regression: ``rmse``, ``mae``, ``r2``. Binary classification: ``logloss``, ``accuracy``,
``auc``, ``f1`` (of the positive class). Multiclass: ``logloss``, ``accuracy``, ``f1``
(macro average). Each is reported per channel as ``train:<name>`` / ``validation:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from opensage.algorithms.base import ProblemType, TrainingContext
from opensage.algorithms.data import EncodedLabels, TrainingData

_NAMES: dict[str, tuple[str, ...]] = {
    "regression": ("rmse", "mae", "r2"),
    "binary": ("logloss", "accuracy", "auc", "f1"),
    "multiclass": ("logloss", "accuracy", "f1"),
}
_EPSILON = 1e-15


def evaluation_metric_names(problem_type: ProblemType) -> list[str]:
    """The common metrics of a supervised problem type (empty for the others)."""
    return list(_NAMES.get(problem_type, ()))


def regression_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """rmse, mae and r2 of predictions against true values."""
    errors = np.asarray(predicted, dtype=np.float64).ravel() - labels
    total = float(np.sum((labels - labels.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / total if total > 0 else 0.0
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": r2,
    }


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, num_classes: int, *, binary: bool | None = None
) -> dict[str, float]:
    """logloss, accuracy, f1 (and auc when binary) from class indices and probabilities.

    ``probabilities`` is the positive-class probability (shape ``(n,)``) for a binary
    problem, or one column per class (``(n, k)``). ``binary`` (default: two classes)
    chooses the binary metric set; a "multiclass" model that met two classes keeps the
    multiclass set, so its metric names stay those it advertised.
    """
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    proba = np.clip(proba, _EPSILON, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    values = {
        "logloss": float(log_loss(labels, proba, labels=list(range(num_classes)))),
        "accuracy": float(np.mean(predicted == labels)),
    }
    if num_classes == 2 if binary is None else binary:
        if len(np.unique(labels)) == 2:  # undefined when one class is absent
            values["auc"] = float(roc_auc_score(labels, proba[:, 1]))
        values["f1"] = float(f1_score(labels, predicted, zero_division=0.0))
    else:
        values["f1"] = float(f1_score(labels, predicted, average="macro", zero_division=0.0))
    return values


def evaluate(
    problem_type: ProblemType, labels: np.ndarray, output: np.ndarray, num_classes: int
) -> dict[str, float]:
    """The common metrics of ``output`` (predicted values or class probabilities)."""
    if problem_type == "regression":
        return regression_metrics(labels, output)
    return classification_metrics(labels, output, num_classes, binary=problem_type == "binary")


def report(
    context: TrainingContext, channel: str, values: dict[str, float], step: int | None
) -> dict[str, float]:
    """Log ``values`` as ``<channel>:<name>`` metrics; return them under those names."""
    reported = {}
    for name, value in values.items():
        if not np.isfinite(value):
            continue  # not JSON, and a series cannot plot it
        context.log_metric(f"{channel}:{name}", value, step=step)
        reported[f"{channel}:{name}"] = float(value)
    return reported


def report_final(
    context: TrainingContext,
    problem_type: ProblemType,
    predict: Callable[[np.ndarray], np.ndarray],
    data: TrainingData,
    labels: EncodedLabels,
    *,
    step: int | None,
    already_reported: Iterable[str] = (),
    outputs: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Evaluate the final model on each channel: log the common metrics the iterations did
    not already report (at ``step``), and return all of them for the manifest.

    ``outputs`` holds a channel's model output when the algorithm already has it (XGBoost
    keeps its training predictions cached); ``predict`` computes the others."""
    known = outputs or {}
    skip = set(already_reported)
    final: dict[str, float] = {}
    channels = [("train", data.train.features, labels.train)]
    if data.validation is not None and labels.validation is not None:
        channels.append(("validation", data.validation.features, labels.validation))
    for channel, features, truth in channels:
        output = known[channel] if channel in known else predict(features)
        values = evaluate(problem_type, truth, output, labels.num_classes)
        fresh = {name: value for name, value in values.items() if f"{channel}:{name}" not in skip}
        report(context, channel, fresh, step)
        final.update({f"{channel}:{name}": value for name, value in values.items()})
    return final
