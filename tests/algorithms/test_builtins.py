"""One check suite over every built-in algorithm (as scikit-learn's ``check_estimator``).

Each case trains a built-in in-process on a small synthetic dataset laid out as a job's
workspace (platform Parquet or SageMaker CSV channels), then checks what a user would
notice: the model beats a trivial baseline, metrics arrive with the advertised names and
steps, the manifest is there, the reloaded model predicts what the trained one did, bad
hyperparameters are rejected naming the field, and the job's CPU budget reaches the library.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opensage.algorithms import ALGORITHMS, get_algorithm
from opensage.algorithms.base import METRIC_PREFIX, Algorithm, TrainingContext, read_manifest
from opensage.algorithms.metrics import classification_metrics, regression_metrics
from opensage.errors import InvalidInput

Task = Literal["regression", "binary", "multiclass", "clustering", "dimensionality", "anomaly"]
LABEL = "target"


@dataclass
class Dataset:
    """Synthetic train/validation data for one task."""

    train_x: np.ndarray
    train_y: np.ndarray | None
    valid_x: np.ndarray
    valid_y: np.ndarray | None


def make_dataset(task: Task, *, text_labels: bool = False) -> Dataset:
    rng = np.random.default_rng(7)
    n_train, n_valid = 300, 120
    n = n_train + n_valid
    y: np.ndarray | None
    if task in ("regression", "binary", "multiclass"):
        x = rng.normal(size=(n, 5))
        weights = np.array([2.0, -1.0, 0.5, 0.0, 1.5])
        score = x @ weights + rng.normal(scale=0.3, size=n)
        if task == "regression":
            y = 10.0 + 3.0 * score
        elif task == "binary":
            y = (score > 0.4).astype(np.float64)
        else:
            y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.float64)
            if text_labels:
                y = np.array(["ant", "bee", "cat"], dtype=object)[y.astype(int)]
    elif task == "clustering":
        centers = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]], dtype=np.float64)
        x = centers[rng.integers(0, 4, size=n)] + rng.normal(size=(n, 3))
        y = None
    elif task == "dimensionality":
        x = rng.normal(size=(n, 2)) @ rng.normal(size=(2, 6)) + rng.normal(scale=0.05, size=(n, 6))
        y = None
    else:  # anomaly: inliers around 0; the validation set gets outliers, labelled 1
        x = rng.normal(size=(n, 4))
        y = np.zeros(n)
        outliers = rng.choice(np.arange(n_train, n), size=12, replace=False)
        x[outliers] = rng.normal(size=(12, 4)) * 0.5 + 6.0 * rng.choice([-1, 1], size=(12, 4))
        y[outliers] = 1.0
        return Dataset(x[:n_train], None, x[n_train:], y[n_train:])
    return Dataset(
        x[:n_train],
        None if y is None else y[:n_train],
        x[n_train:],
        None if y is None else y[n_train:],
    )


@dataclass
class Case:
    """One algorithm configuration and what it must achieve on its task."""

    id: str
    algorithm: str
    hyperparameters: dict[str, str]
    task: Task
    layout: Literal["parquet", "csv"] = "parquet"
    text_labels: bool = False
    iterative: bool = True
    quality: float = 0.0
    """Regression: max validation rmse / std(y). Classification: min accuracy gain over the
    majority class. Clustering: max msd / one-cluster msd. PCA: min explained variance.
    Anomaly: min AUC of outliers over inliers."""
    invalid: list[tuple[dict[str, str | None], str]] = field(default_factory=list)
    """Hyperparameter changes (None removes one) and the field the error must name."""


CASES = [
    Case(
        "xgboost-regression",
        "xgboost",
        {"num_round": "30", "max_depth": "3", "eta": "0.3"},
        "regression",
        quality=0.35,
        invalid=[
            ({"num_round": None}, "num_round"),
            ({"num_round": "ten"}, "num_round"),
            ({"eta": "1.5"}, "eta"),
            ({"objective": "reg:nonsense"}, "objective"),
            ({"lambda": "-1"}, "lambda"),
            ({"objective": "multi:softprob"}, "num_class"),
            ({"eval_metric": "accuracy"}, "eval_metric"),
        ],
    ),
    Case(
        "xgboost-binary-csv",
        "xgboost",
        {
            "num_round": "40",
            "objective": "binary:logistic",
            "eval_metric": "auc,logloss",
            "early_stopping_rounds": "5",
            "max_depth": "3",
        },
        "binary",
        layout="csv",
        quality=0.2,
        invalid=[({"early_stopping_rounds": "0"}, "early_stopping_rounds")],
    ),
    Case(
        "xgboost-multiclass-text-labels",
        "xgboost",
        {"num_round": "20", "objective": "multi:softprob", "num_class": "3", "max_depth": "3"},
        "multiclass",
        text_labels=True,
        quality=0.3,
        invalid=[({"num_class": "1"}, "num_class")],
    ),
    Case(
        "lightgbm-regression",
        "lightgbm",
        {
            "num_boost_round": "60",
            "learning_rate": "0.3",
            "num_leaves": "8",
            "min_data_in_leaf": "5",
        },
        "regression",
        quality=0.4,
        invalid=[
            ({"num_boost_round": "x"}, "num_boost_round"),
            ({"learning_rate": "0"}, "learning_rate"),
            ({"metric": "accuracy"}, "metric"),
            ({"objective": "multiclass"}, "num_class"),
            ({"bagging_fraction": "1.5"}, "bagging_fraction"),
        ],
    ),
    Case(
        "lightgbm-binary",
        "lightgbm",
        {"num_boost_round": "40", "objective": "binary", "metric": "auc", "num_leaves": "8"},
        "binary",
        quality=0.2,
        invalid=[({"num_leaves": "1"}, "num_leaves")],
    ),
    Case(
        "linear-learner-regression-csv",
        "linear-learner",
        {"predictor_type": "regressor", "epochs": "10"},
        "regression",
        layout="csv",
        quality=0.2,
        invalid=[
            ({"predictor_type": None}, "predictor_type"),
            ({"predictor_type": "ranker"}, "predictor_type"),
            ({"epochs": "0"}, "epochs"),
            ({"learning_rate": "fast"}, "learning_rate"),
            ({"wd": "-0.1"}, "wd"),
            ({"loss": "logistic"}, "loss"),
        ],
    ),
    Case(
        "linear-learner-binary",
        "linear-learner",
        {"predictor_type": "binary_classifier", "l1": "0.001", "wd": "auto"},
        "binary",
        quality=0.2,
        invalid=[({"use_bias": "maybe"}, "use_bias")],
    ),
    Case(
        "linear-learner-multiclass",
        "linear-learner",
        {"predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "8"},
        "multiclass",
        quality=0.3,
        invalid=[({"num_classes": None}, "num_classes"), ({"num_classes": "2"}, "num_classes")],
    ),
    Case(
        "random-forest-regression",
        "random-forest",
        {"predictor_type": "regressor", "num_trees": "40"},
        "regression",
        iterative=False,
        quality=0.55,
        invalid=[({"num_trees": "0"}, "num_trees"), ({"max_features": "most"}, "max_features")],
    ),
    Case(
        "random-forest-multiclass",
        "random-forest",
        {"predictor_type": "multiclass_classifier", "num_trees": "40", "max_depth": "8"},
        "multiclass",
        iterative=False,
        quality=0.25,
        invalid=[({"max_depth": "-1"}, "max_depth")],
    ),
    Case(
        "kmeans-csv",
        "kmeans",
        {"k": "4", "epochs": "3", "mini_batch_size": "100", "eval_metrics": '["msd", "ssd"]'},
        "clustering",
        layout="csv",
        quality=0.2,
        invalid=[
            ({"k": None}, "k"),
            ({"k": "0"}, "k"),
            ({"init_method": "smart"}, "init_method"),
            ({"eval_metrics": '["mse"]'}, "eval_metrics"),
        ],
    ),
    Case(
        "pca",
        "pca",
        {"num_components": "2", "algorithm_mode": "randomized"},
        "dimensionality",
        iterative=False,
        quality=0.95,
        invalid=[
            ({"num_components": None}, "num_components"),
            ({"algorithm_mode": "fast"}, "algorithm_mode"),
            ({"subtract_mean": "perhaps"}, "subtract_mean"),
        ],
    ),
    Case(
        "knn-regressor",
        "knn",
        {"k": "5", "predictor_type": "regressor", "sample_size": "300"},
        "regression",
        iterative=False,
        quality=0.7,
        invalid=[({"sample_size": None}, "sample_size"), ({"index_metric": "L1"}, "index_metric")],
    ),
    Case(
        "knn-classifier",
        "knn",
        {"k": "9", "predictor_type": "classifier", "sample_size": "250", "feature_dim": "5"},
        "binary",
        iterative=False,
        quality=0.15,
        invalid=[({"k": "-3"}, "k"), ({"predictor_type": "binary_classifier"}, "predictor_type")],
    ),
    Case(
        "random-cut-forest",
        "random-cut-forest",
        {"num_trees": "50", "num_samples_per_tree": "128"},
        "anomaly",
        iterative=False,
        quality=0.9,
        invalid=[
            ({"num_trees": "10"}, "num_trees"),
            ({"num_samples_per_tree": "4096"}, "num_samples_per_tree"),
        ],
    ),
]


# --- the workspace -------------------------------------------------------------------


def write_channel(directory: Path, x: np.ndarray, y: np.ndarray | None, layout: str) -> None:
    directory.mkdir(parents=True)
    if layout == "csv":  # SageMaker: no header, label first
        columns = [x] if y is None else [y.reshape(-1, 1).astype(np.float64), x]
        np.savetxt(directory / "data.csv", np.hstack(columns), delimiter=",", fmt="%.10g")
        return
    table: dict[str, Any] = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    if y is not None:
        table[LABEL] = y.tolist() if y.dtype == object else y
    half = len(x) // 2  # two files: a channel may hold several
    whole = pa.table(table)
    pq.write_table(whole.slice(0, half), directory / "part-0.parquet")
    pq.write_table(whole.slice(half), directory / "part-1.parquet")


def make_context(tmp_path: Path, case: Case, data: Dataset, num_cpus: int = 1) -> TrainingContext:
    channels = {
        "train": tmp_path / "input/data/train",
        "validation": tmp_path / "input/data/validation",
    }
    write_channel(channels["train"], data.train_x, data.train_y, case.layout)
    write_channel(channels["validation"], data.valid_x, data.valid_y, case.layout)
    config: dict[str, dict[str, Any]] = {}
    for name in channels:
        labelled = (data.train_y if name == "train" else data.valid_y) is not None
        if case.layout == "csv":
            config[name] = {"ContentType": "text/csv" if labelled else "text/csv;label_size=0"}
        else:
            config[name] = {"ContentType": "application/x-parquet"}
            if labelled:
                config[name]["OpenSageLabel"] = LABEL
    return TrainingContext(
        hyperparameters=dict(case.hyperparameters),
        channels=channels,
        model_dir=tmp_path / "model",
        output_data_dir=tmp_path / "output/data",
        checkpoint_dir=tmp_path / "checkpoints",
        num_cpus=num_cpus,
        input_data_config=config,
    )


def metric_lines(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(METRIC_PREFIX) :])
        for line in text.splitlines()
        if line.startswith(METRIC_PREFIX)
    ]


def spy_on_threads(monkeypatch: pytest.MonkeyPatch, algorithm: Algorithm) -> list[int]:
    """Record the thread count each library is given during training."""
    seen: list[int] = []
    module = importlib.import_module(type(algorithm).__module__)
    if algorithm.name in ("xgboost", "lightgbm"):
        library = importlib.import_module(algorithm.name)
        key = "nthread" if algorithm.name == "xgboost" else "num_threads"
        real_train = library.train

        def train(params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            seen.append(params[key])
            return real_train(params, *args, **kwargs)

        monkeypatch.setattr(library, "train", train)
    else:
        real_limit = module.limit_threads

        def limit(num_cpus: int) -> Any:
            seen.append(num_cpus)
            return real_limit(num_cpus)

        monkeypatch.setattr(module, "limit_threads", limit)
    return seen


def class_indices(labels: np.ndarray, classes: list[Any]) -> np.ndarray:
    index = {value: i for i, value in enumerate(classes)}
    return np.array([index[value] for value in labels.tolist()])


# --- the suite -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_trains_reports_and_reloads(
    case: Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    algorithm = get_algorithm(case.algorithm)
    data = make_dataset(case.task, text_labels=case.text_labels)
    context = make_context(tmp_path, case, data)
    params = algorithm.parse_hyperparameters(context.hyperparameters)
    threads = spy_on_threads(monkeypatch, algorithm)

    algorithm.train(params, context)
    emitted = metric_lines(capsys.readouterr().out)

    # The CPU budget reached the library.
    assert threads and set(threads) == {1}

    # Metrics: advertised names, for both channels, with steps 1..n or none.
    advertised = set(algorithm.metric_names(params))
    names = {record["name"] for record in emitted}
    assert names, "no metrics reported"
    for name in names:
        channel, _, metric = name.partition(":")
        assert channel in ("train", "validation") and metric in advertised, name
    assert any(n.startswith("train:") for n in names)
    assert any(n.startswith("validation:") for n in names)
    first = next(m for m in algorithm.metric_names(params) if f"train:{m}" in names)
    steps = [r["step"] for r in emitted if r["name"] == f"train:{first}"]
    if case.iterative:
        assert len(steps) > 1 and steps == list(range(1, len(steps) + 1))
    else:
        assert steps == [None]

    # The manifest describes the model.
    manifest = read_manifest(context.model_dir)
    assert manifest["algorithm"] == case.algorithm
    assert manifest["problem_type"] == algorithm.problem_type(params)
    assert (context.model_dir / manifest["model_file"]).is_file()
    assert len(manifest["feature_names"]) == data.train_x.shape[1]
    assert manifest["label"] == (
        LABEL if case.layout == "parquet" and data.train_y is not None else None
    )
    assert set(manifest["metrics"]) <= names | {
        f"{c}:{m}" for c in ("train", "validation") for m in advertised
    }
    assert manifest["hyperparameters"]
    assert not list(context.model_dir.glob("*.pkl")) and not list(
        context.model_dir.glob("*.pickle")
    )

    # The reloaded model predicts what the trained one did, and beats a trivial baseline.
    model = algorithm.load(context.model_dir)
    predicted = algorithm.predict(model, data.valid_x)
    assert len(predicted) == len(data.valid_x)
    recomputed, quality_ok = judge(case, algorithm, model, manifest, data, predicted)
    recomputed.update(train_metrics(case, algorithm, model, manifest, data))
    for name, value in recomputed.items():
        assert manifest["metrics"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert quality_ok, (case.id, recomputed, manifest["metrics"])


def judge(
    case: Case,
    algorithm: Algorithm,
    model: Any,
    manifest: dict[str, Any],
    data: Dataset,
    predicted: np.ndarray,
) -> tuple[dict[str, float], bool]:
    """Validation metrics recomputed from the reloaded model, and whether quality is met."""
    if case.task == "regression":
        assert data.valid_y is not None
        values = regression_metrics(data.valid_y, predicted)
        return _prefixed(values), values["rmse"] < case.quality * data.valid_y.std()
    if case.task in ("binary", "multiclass"):
        assert data.valid_y is not None and data.train_y is not None
        classes = manifest["classes"]
        truth = class_indices(data.valid_y, classes)
        binary = manifest["problem_type"] == "binary"
        values = classification_metrics(truth, predicted, len(classes), binary=binary)
        majority = np.bincount(class_indices(data.train_y, classes)).argmax()
        baseline = float(np.mean(truth == majority))
        return _prefixed(values), values["accuracy"] > baseline + case.quality
    if case.task == "clustering":
        from opensage.algorithms.kmeans import squared_distances

        distances = squared_distances(model.estimator, data.valid_x)
        one_cluster = float(np.mean(np.sum((data.valid_x - data.train_x.mean(0)) ** 2, axis=1)))
        values = {"msd": float(distances.mean()), "ssd": float(distances.sum())}
        assert set(np.unique(predicted)) <= set(range(4))
        return _prefixed(values), values["msd"] < case.quality * one_cluster
    if case.task == "dimensionality":
        from opensage.algorithms.pca import reconstruction_metrics

        assert predicted.shape == (len(data.valid_x), 2)
        values = reconstruction_metrics(model.estimator, data.valid_x, True)
        return _prefixed(values), values["explained_variance_ratio"] > case.quality
    # anomaly: outliers score higher than inliers
    from sklearn.metrics import roc_auc_score

    assert data.valid_y is not None
    auc = float(roc_auc_score(data.valid_y, predicted))
    train_mean = float(algorithm.predict(model, data.train_x).mean())
    recomputed = {"validation:auc": auc, "train:score_mean": train_mean}
    return recomputed, auc > case.quality


def train_metrics(
    case: Case, algorithm: Algorithm, model: Any, manifest: dict[str, Any], data: Dataset
) -> dict[str, float]:
    """A supervised model's final training-channel metrics, recomputed from the reloaded
    model (XGBoost takes them from its prediction cache instead of predicting again)."""
    if case.task not in ("regression", "binary", "multiclass"):
        return {}
    assert data.train_y is not None
    predicted = algorithm.predict(model, data.train_x)
    if case.task == "regression":
        values = regression_metrics(data.train_y, predicted)
    else:
        classes = manifest["classes"]
        truth = class_indices(data.train_y, classes)
        binary = manifest["problem_type"] == "binary"
        values = classification_metrics(truth, predicted, len(classes), binary=binary)
    return _prefixed(values, "train")


def _prefixed(values: dict[str, float], channel: str = "validation") -> dict[str, float]:
    return {f"{channel}:{name}": value for name, value in values.items()}


@pytest.mark.parametrize(
    ("case", "change", "field_name"),
    [
        pytest.param(case, change, field_name, id=f"{case.id}-{field_name}-{i}")
        for case in CASES
        for i, (change, field_name) in enumerate(
            [*case.invalid, ({"not_a_hyperparameter": "1"}, "not_a_hyperparameter")]
        )
    ],
)
def test_rejects_invalid_hyperparameters(
    case: Case, change: dict[str, str | None], field_name: str
) -> None:
    raw: dict[str, Any] = dict(case.hyperparameters)
    for name, value in change.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    with pytest.raises(InvalidInput) as caught:
        get_algorithm(case.algorithm).parse_hyperparameters(raw)
    assert caught.value.field == f"hyperparameters.{field_name}"
    assert field_name in caught.value.message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_valid_hyperparameters_describe_the_job(case: Case) -> None:
    algorithm = get_algorithm(case.algorithm)
    params = algorithm.parse_hyperparameters(case.hyperparameters)
    expected = {
        "regression": "regression",
        "binary": "binary",
        "multiclass": "multiclass",
        "clustering": "clustering",
        "dimensionality": "dimensionality",
        "anomaly": "anomaly",
    }[case.task]
    problem_type = algorithm.problem_type(params)
    # k-NN cannot know from its hyperparameters that a classifier's data is binary.
    assert problem_type == expected or (case.algorithm == "knn" and problem_type == "multiclass")
    assert algorithm.metric_names(params)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_train_channel_is_required(name: str, tmp_path: Path) -> None:
    algorithm = ALGORITHMS[name]
    case = next(case for case in CASES if case.algorithm == name)
    context = TrainingContext(
        hyperparameters=case.hyperparameters,
        channels={},
        model_dir=tmp_path / "model",
        output_data_dir=tmp_path / "output",
        checkpoint_dir=tmp_path / "checkpoints",
    )
    with pytest.raises(InvalidInput) as caught:
        algorithm.train(algorithm.parse_hyperparameters(case.hyperparameters), context)
    assert caught.value.field == "channels.train"


def test_registry_lists_the_builtins_and_rejects_unknown_names() -> None:
    assert set(ALGORITHMS) == {
        "xgboost",
        "lightgbm",
        "linear-learner",
        "random-forest",
        "kmeans",
        "pca",
        "knn",
        "random-cut-forest",
    }
    assert {case.algorithm for case in CASES} == set(ALGORITHMS)
    with pytest.raises(InvalidInput) as caught:
        get_algorithm("deepar")
    assert caught.value.field == "algorithm"
    assert "xgboost" in caught.value.message


def test_importing_the_registry_does_not_import_learning_libraries() -> None:
    code = (
        "import sys, opensage, opensage.algorithms as a; "
        "print(sorted(m for m in ('xgboost', 'lightgbm', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
