"""The one contract every built-in algorithm obeys (as scikit-learn's estimators do).

A built-in is an entry point of the training contract: it reads its channels from the
job's workspace (``input/data/<channel>/``), its hyperparameters (strings, as SageMaker
passes them, validated by the algorithm's pydantic model with SageMaker's names and
defaults), writes its model in a safe native format plus ``manifest.json`` into the model
directory, and reports metrics (``train:rmse``, ``validation:auc`` ...) per iteration.
"""

from __future__ import annotations

import json
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from opensage.errors import InvalidInput

ProblemType = Literal[
    "regression", "binary", "multiclass", "clustering", "dimensionality", "anomaly"
]
MANIFEST = "manifest.json"
METRIC_PREFIX = "#opensage-metric "
PLATFORM_KEY_PREFIXES = ("sagemaker_", "_")


class Hyperparameters(BaseModel):
    """Base of every algorithm's hyperparameters: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass
class TrainingContext:
    """What a training entry point sees: the SageMaker workspace, as paths and values."""

    hyperparameters: dict[str, str]
    channels: dict[str, Path]
    model_dir: Path
    output_data_dir: Path
    checkpoint_dir: Path
    num_cpus: int = 1
    input_data_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Report one metric value (one line on stdout that the platform parses)."""
        log_metric(name, value, step)

    def channel_label(self, channel: str) -> str | None:
        """The label column of a platform-dataset channel (None for SageMaker CSV)."""
        label = self.input_data_config.get(channel, {}).get("OpenSageLabel")
        return str(label) if label else None


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Report a metric from any training code (built-in or user script) to the platform."""
    record = {"name": name, "value": float(value), "step": step}
    sys.stdout.write(METRIC_PREFIX + json.dumps(record) + "\n")
    sys.stdout.flush()


@dataclass
class TabularData:
    """Features and (optionally) labels read from a channel."""

    features: np.ndarray
    labels: np.ndarray | None
    feature_names: list[str]
    label_name: str | None


class Algorithm(ABC):
    """A built-in algorithm: validated hyperparameters in, a saved model and metrics out."""

    name: ClassVar[str]
    hyperparameters: ClassVar[type[Hyperparameters]]
    """The pydantic model of its hyperparameters (SageMaker's names and defaults)."""
    required_channels: ClassVar[tuple[str, ...]] = ("train",)
    optional_channels: ClassVar[tuple[str, ...]] = ("validation",)

    def parse_hyperparameters(self, raw: dict[str, Any]) -> Hyperparameters:
        """Validate raw (often string) hyperparameters; raise ``InvalidInput`` naming the field.

        Keys SageMaker's tooling adds for itself (``sagemaker_*``, ``_tuning_objective_metric``)
        are not the algorithm's and are left out.
        """
        own = {k: v for k, v in raw.items() if not k.startswith(PLATFORM_KEY_PREFIXES)}
        try:
            return self.hyperparameters.model_validate(own)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(p) for p in first["loc"]) or "hyperparameters"
            raise InvalidInput(
                f"{self.name}: hyperparameter {name!r}: {first['msg']}",
                field=f"hyperparameters.{name}",
            ) from None

    def problem_type(self, params: Hyperparameters) -> ProblemType:
        """What kind of model these hyperparameters ask for."""
        raise NotImplementedError

    def metric_names(self, params: Hyperparameters) -> list[str]:
        """Names of the metrics this configuration emits (without the channel prefix),
        e.g. ``["rmse", "mae"]``, so a tuning objective can be checked up front."""
        raise NotImplementedError

    @abstractmethod
    def train(self, params: Hyperparameters, context: TrainingContext) -> None:
        """Train on ``context``'s channels and write the model and manifest to its model dir."""

    @abstractmethod
    def load(self, model_dir: Path) -> Any:
        """Load a model this algorithm saved (safe formats only)."""

    @abstractmethod
    def predict(self, model: Any, features: np.ndarray) -> np.ndarray:
        """Predictions for a 2-D float array of features (one row per record)."""


def write_manifest(model_dir: Path, **fields: Any) -> None:
    """Write ``manifest.json`` next to the model: algorithm, features, label, metrics ..."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MANIFEST).write_text(json.dumps(fields, indent=2, default=str))


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest a built-in wrote."""
    data: dict[str, Any] = json.loads((model_dir / MANIFEST).read_text())
    return data
