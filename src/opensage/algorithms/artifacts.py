"""How built-in models are written and read back: safe formats plus ``manifest.json``.

scikit-learn models are stored with skops (no pickle) and loaded trusting only
scikit-learn's own types; XGBoost and LightGBM write their native formats themselves.
Every model directory also carries the manifest the platform reads to serve the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opensage.algorithms.base import (
    Algorithm,
    Hyperparameters,
    ProblemType,
    read_manifest,
    write_manifest,
)
from opensage.algorithms.data import TrainingData
from opensage.errors import InvalidInput

SKOPS_FILE = "model.skops"
SKOPS_FORMAT = "skops"
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.")


def save_skops(model: Any, model_dir: Path, name: str = SKOPS_FILE) -> str:
    """Write ``model`` with skops (atomically: a reader never sees half a file)."""
    import skops.io as sio  # here, not at the top: importing skops alone takes ~1 s

    model_dir.mkdir(parents=True, exist_ok=True)
    partial = model_dir / f".{name}.partial"
    sio.dump(model, partial)
    os.replace(partial, model_dir / name)
    return name


def load_skops(path: Path) -> Any:
    """Load a skops file, refusing any type that is not scikit-learn's or numpy's own."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    foreign = [name for name in untrusted if not name.startswith(_TRUSTED_PREFIXES)]
    if foreign:
        raise InvalidInput(f"model file {path.name} holds untrusted types: {foreign}")
    return sio.load(path, trusted=untrusted)


def model_file(model_dir: Path) -> Path:
    """The model file a built-in's manifest names."""
    return model_dir / str(read_manifest(model_dir)["model_file"])


@dataclass
class SkopsModel:
    """A loaded scikit-learn model with its manifest (which knows e.g. the class count)."""

    estimator: Any
    manifest: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return len(self.manifest.get("classes") or [])


def load_skops_model(model_dir: Path) -> SkopsModel:
    """Load the skops model a built-in saved in ``model_dir``, with its manifest."""
    manifest = read_manifest(model_dir)
    return SkopsModel(load_skops(model_dir / str(manifest["model_file"])), manifest)


def save_sklearn_model(
    model: Any,
    model_dir: Path,
    *,
    algorithm: Algorithm,
    params: Hyperparameters,
    problem_type: ProblemType,
    data: TrainingData,
    metrics: dict[str, float],
    prediction: str,
    **extra: Any,
) -> None:
    """Save a scikit-learn model with skops and write its manifest beside it."""
    name = save_skops(model, model_dir)
    write_model_manifest(
        model_dir,
        algorithm=algorithm,
        params=params,
        problem_type=problem_type,
        data=data,
        model_file=name,
        model_format=SKOPS_FORMAT,
        metrics=metrics,
        prediction=prediction,
        **extra,
    )


def write_model_manifest(
    model_dir: Path,
    *,
    algorithm: Algorithm,
    params: Hyperparameters,
    problem_type: ProblemType,
    data: TrainingData,
    model_file: str,
    model_format: str,
    metrics: dict[str, float],
    prediction: str,
    **extra: Any,
) -> None:
    """Write the manifest every built-in model carries.

    ``prediction`` says what ``predict`` returns (``value``, ``positive_probability``,
    ``class_probabilities``, ``cluster``, ``projection``, ``anomaly_score`` ...), so a
    server can label its output without knowing the algorithm.
    """
    write_manifest(
        model_dir,
        algorithm=algorithm.name,
        problem_type=problem_type,
        feature_names=data.feature_names,
        label=data.label_name,
        hyperparameters=params.model_dump(mode="json", by_alias=True),
        metrics=metrics,
        model_file=model_file,
        format=model_format,
        prediction=prediction,
        **extra,
    )
