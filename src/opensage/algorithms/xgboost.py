"""XGBoost, as SageMaker's built-in: its hyperparameter names, defaults and metric names.

Per boosting round it reports XGBoost's own evaluation metrics (``train:rmse``,
``validation:auc`` ... as ``eval_metric`` asks, SageMaker's names), then the platform's
common metrics once at the end. With early stopping the saved model keeps only the trees
up to the best round (SageMaker serves the best model too). ``predict`` returns what
XGBoost returns for the objective: values, the positive-class probability
(``binary:logistic``), class probabilities (``multi:softprob``), class indices
(``multi:softmax``) ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import xgboost as xgb
from pydantic import Field, model_validator

from opensage.algorithms.artifacts import model_file, write_model_manifest
from opensage.algorithms.base import Algorithm, Hyperparameters, ProblemType, TrainingContext
from opensage.algorithms.data import (
    EncodedLabels,
    class_labels,
    read_training_data,
    regression_labels,
)
from opensage.algorithms.hyperparameters import invalid_hyperparameter, json_list
from opensage.algorithms.metrics import evaluation_metric_names, report, report_final
from opensage.algorithms.xgboost_dense import predict_dense
from opensage.errors import InvalidInput

# Universal Binary JSON: XGBoost's own safe format, read back in a fraction of the time of
# its JSON (which matters to every endpoint and transform worker that loads the model).
MODEL_FILE = "xgboost-model.ubj"

Objective = Literal[
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:logistic",
    "reg:gamma",
    "reg:tweedie",
    "count:poisson",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "multi:softmax",
    "multi:softprob",
]
EVAL_METRICS = (
    "rmse",
    "rmsle",
    "mae",
    "mape",
    "mphe",
    "logloss",
    "error",
    "merror",
    "mlogloss",
    "auc",
    "aucpr",
    "poisson-nloglik",
    "gamma-nloglik",
    "gamma-deviance",
    "tweedie-nloglik",
)
# XGBoost's default evaluation metric per objective (what it reports when none is asked).
_DEFAULT_EVAL_METRIC = {
    "reg:squarederror": "rmse",
    "reg:squaredlogerror": "rmsle",
    "reg:pseudohubererror": "mphe",
    "reg:absoluteerror": "mae",
    "reg:logistic": "rmse",
    "reg:gamma": "gamma-nloglik",
    "reg:tweedie": "tweedie-nloglik",
    "count:poisson": "poisson-nloglik",
    "binary:logistic": "logloss",
    "binary:logitraw": "logloss",
    "binary:hinge": "error",
    "multi:softmax": "merror",
    "multi:softprob": "mlogloss",
}
_PREDICTION = {
    "binary:logistic": "positive_probability",
    "binary:logitraw": "margin",
    "binary:hinge": "class_index",
    "multi:softmax": "class_index",
    "multi:softprob": "class_probabilities",
}


class XGBoostHyperparameters(Hyperparameters):
    """SageMaker XGBoost's hyperparameters (the commonly used subset), same names and defaults."""

    num_round: int = Field(ge=1, description="Boosting rounds (required, as in SageMaker).")
    objective: Objective = "reg:squarederror"
    num_class: int | None = Field(None, ge=2, description="Required for multi:* objectives.")
    eta: float = Field(0.3, ge=0, le=1)
    max_depth: int = Field(6, ge=0)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    colsample_bylevel: float = Field(1.0, gt=0, le=1)
    colsample_bynode: float = Field(1.0, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0)
    gamma: float = Field(0.0, ge=0)
    alpha: float = Field(0.0, ge=0)
    lambda_: float = Field(1.0, ge=0, alias="lambda")
    max_delta_step: float = Field(0.0, ge=0)
    scale_pos_weight: float = Field(1.0, gt=0)
    base_score: float | None = Field(None, description="Default: XGBoost estimates it.")
    booster: Literal["gbtree", "gblinear", "dart"] = "gbtree"
    tree_method: Literal["auto", "exact", "approx", "hist"] = "auto"
    max_bin: int = Field(256, ge=2)
    eval_metric: Annotated[list[str] | None, json_list(EVAL_METRICS)] = Field(
        None, description="Names (JSON list or comma-separated); default: the objective's."
    )
    early_stopping_rounds: int | None = Field(None, ge=1)
    seed: int = 0
    verbosity: int = Field(1, ge=0, le=3)

    @model_validator(mode="after")
    def _num_class_for_multiclass(self) -> XGBoostHyperparameters:
        if self.objective.startswith("multi:") and self.num_class is None:
            invalid_hyperparameter("num_class", f"is required when objective is {self.objective}")
        return self


class XGBoost(Algorithm):
    """Gradient-boosted trees for regression, binary and multiclass classification."""

    name = "xgboost"
    hyperparameters = XGBoostHyperparameters

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        assert isinstance(params, XGBoostHyperparameters)
        if params.objective.startswith("binary:"):
            return "binary"
        if params.objective.startswith("multi:"):
            return "multiclass"
        return "regression"

    def _eval_metrics(self, params: XGBoostHyperparameters) -> list[str]:
        return params.eval_metric or [_DEFAULT_EVAL_METRIC[params.objective]]

    def metric_names(self, params: Hyperparameters) -> list[str]:
        assert isinstance(params, XGBoostHyperparameters)
        names = self._eval_metrics(params) + evaluation_metric_names(self.problem_type(params))
        return list(dict.fromkeys(names))

    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        assert isinstance(params, XGBoostHyperparameters)
        problem_type = self.problem_type(params)
        data = read_training_data(context, labelled=True)
        if params.early_stopping_rounds and data.validation is None:
            invalid_hyperparameter("early_stopping_rounds", "needs a validation channel")
        labels: EncodedLabels
        if problem_type == "regression":
            labels = regression_labels(data)
        else:
            expected = params.num_class if problem_type == "multiclass" else 2
            field = "num_class" if problem_type == "multiclass" else "objective"
            labels = class_labels(data, expected, field=field)

        dtrain = xgb.DMatrix(data.train.features, label=labels.train, nthread=context.num_cpus)
        evals = [(dtrain, "train")]
        if data.validation is not None:
            evals.append(
                (
                    xgb.DMatrix(
                        data.validation.features,
                        label=labels.validation,
                        nthread=context.num_cpus,
                    ),
                    "validation",
                )
            )
        eval_metrics = self._eval_metrics(params)
        output = _Output(problem_type)
        callback = _ReportRounds(context, evals, output, keep_all=not params.early_stopping_rounds)
        try:
            booster = xgb.train(
                self._library_params(params, context.num_cpus, eval_metrics),
                dtrain,
                num_boost_round=params.num_round,
                evals=evals,
                early_stopping_rounds=params.early_stopping_rounds,
                verbose_eval=False,
                callbacks=[callback],
            )
        except xgb.core.XGBoostError as exc:
            raise InvalidInput(
                f"xgboost rejected the job: {str(exc).splitlines()[0]}", field="hyperparameters"
            ) from None
        rounds = callback.rounds
        if params.early_stopping_rounds and params.booster != "gblinear":
            rounds = booster.best_iteration + 1
            booster = booster[:rounds]
        final = report_final(
            context,
            problem_type,
            lambda features: output.of_features(booster, features),
            data,
            labels,
            step=rounds,
            already_reported=callback.reported,
            outputs=callback.outputs,
        )
        final.update(callback.values_at(rounds))
        context.model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(context.model_dir / MODEL_FILE)
        write_model_manifest(
            context.model_dir,
            algorithm=self,
            params=params,
            problem_type=problem_type,
            data=data,
            model_file=MODEL_FILE,
            model_format="xgboost-ubj",
            metrics=final,
            prediction=_PREDICTION.get(params.objective, "value"),
            classes=labels.classes,
            rounds=rounds,
        )

    @staticmethod
    def _library_params(
        params: XGBoostHyperparameters, num_cpus: int, eval_metrics: list[str]
    ) -> dict[str, Any]:
        library = params.model_dump(
            by_alias=True,
            exclude={
                "num_round",
                "eval_metric",
                "early_stopping_rounds",
                "num_class",
                "base_score",
            },
        )
        if params.num_class is not None and params.objective.startswith("multi:"):
            library["num_class"] = params.num_class
        if params.scale_pos_weight == 1.0:  # XGBoost's default; it warns if set unused
            del library["scale_pos_weight"]
        if params.base_score is not None:
            library["base_score"] = params.base_score
        library["eval_metric"] = eval_metrics
        library["nthread"] = num_cpus
        return library

    def load(self, model_dir: Path) -> xgb.Booster:
        booster = xgb.Booster()
        booster.load_model(model_file(model_dir))
        return booster

    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        return predict_dense(model, features)


class _Output:
    """The model output the common metrics take: values for regression, class
    probabilities for classification (from margins, whatever the objective returns)."""

    def __init__(self, problem_type: ProblemType) -> None:
        self.problem_type = problem_type

    def from_margin(self, margin: np.ndarray) -> np.ndarray:
        if self.problem_type == "binary":
            return np.asarray(1.0 / (1.0 + np.exp(-margin)))
        shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))

    def of_features(self, booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
        if self.problem_type == "regression":
            return np.asarray(booster.inplace_predict(features))
        return self.from_margin(
            np.asarray(booster.inplace_predict(features, predict_type="margin"))
        )

    def of_matrix(self, booster: xgb.Booster, matrix: xgb.DMatrix) -> np.ndarray:
        """Predictions on a DMatrix the booster trained with: served from its prediction
        cache, which ``xgb.train`` drops on return."""
        if self.problem_type == "regression":
            return np.asarray(booster.predict(matrix))
        return self.from_margin(np.asarray(booster.predict(matrix, output_margin=True)))


class _ReportRounds(xgb.callback.TrainingCallback):
    """Reports XGBoost's evaluation results after each round (step = rounds done), and
    keeps the final model's output on each evaluation set while it is still cached.

    ``keep_all`` is false under early stopping: the model kept is then cut at the best
    round, whose outputs the cache does not hold.
    """

    def __init__(
        self,
        context: TrainingContext,
        evals: list[tuple[xgb.DMatrix, str]],
        output: _Output,
        *,
        keep_all: bool,
    ) -> None:
        super().__init__()
        self.context = context
        self.evals = evals
        self.output = output
        self.keep_all = keep_all
        self.rounds = 0
        self.history: dict[str, list[float]] = {}
        self.outputs: dict[str, np.ndarray] = {}

    def after_training(self, model: Any) -> Any:
        if self.keep_all:
            for matrix, channel in self.evals:
                self.outputs[channel] = self.output.of_matrix(model, matrix)
        return model

    @property
    def reported(self) -> set[str]:
        return set(self.history)

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        self.rounds = epoch + 1
        for channel, results in evals_log.items():
            for metric, values in results.items():
                last = values[-1]
                value = float(last[0] if isinstance(last, tuple) else last)
                self.history.setdefault(f"{channel}:{metric}", []).append(value)
                report(self.context, channel, {metric: value}, step=self.rounds)
        return False

    def values_at(self, rounds: int) -> dict[str, float]:
        """Each metric's value after ``rounds`` rounds (the model that is kept)."""
        return {name: values[rounds - 1] for name, values in self.history.items()}
