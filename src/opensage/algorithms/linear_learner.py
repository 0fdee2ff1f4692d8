"""Linear learner, as SageMaker's built-in: linear models trained by SGD, one pass per epoch.

SageMaker's names and defaults where scikit-learn's ``SGDRegressor``/``SGDClassifier`` can
honour them: ``epochs`` passes, ``wd`` (L2) and ``l1`` penalties, ``learning_rate``, feature
and label normalisation, early stopping on the validation loss with ``early_stopping_patience``
and ``early_stopping_tolerance`` (the best epoch's model is kept). Multiclass uses one
logistic model per class (SageMaker uses a softmax). ``mini_batch_size`` is accepted for
compatibility; SGD here updates after every example. Metrics are reported every epoch.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

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
from opensage.algorithms.hyperparameters import (
    NonNegativeFloatOrAuto,
    PositiveFloatOrAuto,
    SupervisedPredictor,
    check_feature_dim,
    invalid_hyperparameter,
)
from opensage.algorithms.metrics import evaluate, evaluation_metric_names, report, report_final
from opensage.algorithms.probabilities import class_probabilities
from opensage.algorithms.threads import limit_threads

_PROBLEM: dict[str, ProblemType] = {
    "regressor": "regression",
    "binary_classifier": "binary",
    "multiclass_classifier": "multiclass",
}
_LOSSES: dict[str, tuple[str, ...]] = {
    "regressor": ("auto", "squared_loss", "absolute_loss", "huber_loss"),
    "binary_classifier": ("auto", "logistic"),
    "multiclass_classifier": ("auto", "softmax_loss"),
}
_AUTO_WD = 1e-4  # scikit-learn's default L2 strength; SageMaker searches several instead


class LinearLearnerHyperparameters(Hyperparameters):
    """SageMaker linear learner's hyperparameters (the subset SGD can honour)."""

    predictor_type: SupervisedPredictor
    num_classes: int | None = Field(None, ge=3, le=1_000_000)
    epochs: int = Field(15, ge=1)
    mini_batch_size: int = Field(1000, ge=1)
    learning_rate: PositiveFloatOrAuto = None
    l1: NonNegativeFloatOrAuto = None
    wd: NonNegativeFloatOrAuto = None
    loss: Literal[
        "auto", "squared_loss", "absolute_loss", "huber_loss", "logistic", "softmax_loss"
    ] = "auto"
    huber_delta: float = Field(1.0, gt=0)
    use_bias: bool = True
    normalize_data: bool = True
    normalize_label: bool | None = Field(None, description="auto: on for regressors.")
    early_stopping_patience: int = Field(3, ge=1)
    early_stopping_tolerance: float = Field(0.001, gt=0)
    feature_dim: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> LinearLearnerHyperparameters:
        if self.predictor_type == "multiclass_classifier" and self.num_classes is None:
            invalid_hyperparameter("num_classes", "is required for multiclass_classifier")
        if self.loss not in _LOSSES[self.predictor_type]:
            invalid_hyperparameter(
                "loss",
                f"{self.loss!r} does not fit predictor_type {self.predictor_type!r}; "
                f"choose from {list(_LOSSES[self.predictor_type])}",
            )
        return self


class LinearLearner(Algorithm):
    """Linear regression and logistic classification, trained epoch by epoch."""

    name = "linear-learner"
    hyperparameters = LinearLearnerHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        assert isinstance(params, LinearLearnerHyperparameters)
        return _PROBLEM[params.predictor_type]

    def metric_names(self, params: Hyperparameters) -> list[str]:
        return evaluation_metric_names(self.problem_type(params))

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, LinearLearnerHyperparameters)
        problem_type = self.problem_type(params)
        data = read_training_data(context, labelled=True)
        require_finite(data, self.name)
        check_feature_dim(params.feature_dim, data.train.features.shape[1])
        labels: EncodedLabels
        if problem_type == "regression":
            labels = regression_labels(data)
        elif problem_type == "binary":
            labels = class_labels(data, 2, field="predictor_type")
        else:
            labels = class_labels(data, params.num_classes, field="num_classes")

        scaler = StandardScaler().fit(data.train.features) if params.normalize_data else None
        scale = scaler.transform if scaler is not None else (lambda features: features)
        train_x = scale(data.train.features)
        valid_x = scale(data.validation.features) if data.validation is not None else None
        label_mean, label_std = 0.0, 1.0
        if problem_type == "regression" and params.normalize_label is not False:
            label_mean = float(labels.train.mean())
            label_std = float(labels.train.std()) or 1.0
        target = (labels.train - label_mean) / label_std if problem_type == "regression" else None

        model = self._estimator(params)
        best, best_loss, best_epoch, stale = model, np.inf, 0, 0
        with limit_threads(context.num_cpus):
            for epoch in range(1, params.epochs + 1):
                if isinstance(model, SGDRegressor):
                    model.partial_fit(train_x, target)
                else:
                    model.partial_fit(train_x, labels.train, classes=np.arange(labels.num_classes))

                def output(features: np.ndarray, fitted: Any = model) -> np.ndarray:
                    return self._output(
                        fitted, features, problem_type, labels.num_classes, label_mean, label_std
                    )

                values = evaluate(problem_type, labels.train, output(train_x), labels.num_classes)
                report(context, "train", values, step=epoch)
                if valid_x is not None and labels.validation is not None:
                    values = evaluate(
                        problem_type, labels.validation, output(valid_x), labels.num_classes
                    )
                    report(context, "validation", values, step=epoch)
                loss = values["rmse" if problem_type == "regression" else "logloss"]
                if loss < best_loss * (1 - params.early_stopping_tolerance):
                    best, best_loss, best_epoch, stale = copy.deepcopy(model), loss, epoch, 0
                else:
                    stale += 1
                    if stale >= params.early_stopping_patience:
                        break

        final_model = self._assemble(best, scaler, label_mean, label_std)
        metrics = report_final(
            context,
            problem_type,
            lambda features: self._output(
                final_model, features, problem_type, labels.num_classes, 0.0, 1.0
            ),
            data,
            labels,
            step=best_epoch,
            already_reported=[
                f"{channel}:{name}"
                for channel in ("train", "validation")
                for name in evaluation_metric_names(problem_type)
            ],
        )
        save_sklearn_model(
            final_model,
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
            epochs=best_epoch,
        )

    @staticmethod
    def _estimator(params: LinearLearnerHyperparameters) -> SGDRegressor | SGDClassifier:
        wd = _AUTO_WD if params.wd is None else params.wd
        l1 = params.l1 or 0.0
        penalty: dict[str, Any] = {"penalty": None}
        if wd + l1 > 0:
            penalty = {"penalty": "elasticnet", "alpha": wd + l1, "l1_ratio": l1 / (wd + l1)}
        schedule: dict[str, Any] = {"learning_rate": "invscaling", "eta0": params.learning_rate}
        common = {"fit_intercept": params.use_bias, "random_state": 0, **penalty}
        if params.predictor_type == "regressor":
            if params.learning_rate is None:
                schedule["eta0"] = 0.01
            loss, epsilon = {
                "absolute_loss": ("epsilon_insensitive", 0.0),
                "huber_loss": ("huber", params.huber_delta),
            }.get(params.loss, ("squared_error", 0.1))
            return SGDRegressor(loss=loss, epsilon=epsilon, **schedule, **common)
        if params.learning_rate is None:
            schedule = {"learning_rate": "optimal"}
        return SGDClassifier(loss="log_loss", **schedule, **common)

    @staticmethod
    def _assemble(
        model: Any, scaler: StandardScaler | None, label_mean: float, label_std: float
    ) -> Any:
        """The servable model: label scaling folded into the weights, feature scaling in front."""
        if isinstance(model, SGDRegressor):
            model.coef_ = model.coef_ * label_std
            model.intercept_ = model.intercept_ * label_std + label_mean
        if scaler is None:
            return model
        return Pipeline([("normalize", scaler), ("linear", model)])

    @staticmethod
    def _output(
        model: Any,
        features: np.ndarray,
        problem_type: ProblemType,
        num_classes: int,
        label_mean: float,
        label_std: float,
    ) -> np.ndarray:
        if problem_type == "regression":
            return np.asarray(model.predict(features), dtype=np.float64) * label_std + label_mean
        return class_probabilities(model, features, num_classes)

    def load(self, model_dir: Path) -> SkopsModel:
        return load_skops_model(model_dir)

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        assert isinstance(model, SkopsModel)
        return self._output(
            model.estimator,
            features,
            model.manifest["problem_type"],
            model.num_classes,
            0.0,
            1.0,
        )
