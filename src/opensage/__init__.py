"""OpenSage: a self-hosted machine-learning platform.

The public SDK surface: ``Client`` and the typed errors it raises.
"""

from opensage._version import __version__
from opensage.algorithms.base import log_metric
from opensage.client import (
    Baseline,
    Client,
    Dataset,
    Endpoint,
    Execution,
    ModelVersion,
    MonitoringSchedule,
    TrainingJob,
    TransformJob,
    TuningJob,
    tune,
)
from opensage.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    ModelError,
    NotFound,
    OpenSageError,
    PayloadTooLarge,
    ServerUnavailable,
    Unauthorized,
)
from opensage.tuning.schemas import CategoricalRange, ContinuousRange, IntegerRange

__all__ = [
    "Baseline",
    "CategoricalRange",
    "Client",
    "Conflict",
    "ContinuousRange",
    "Dataset",
    "Endpoint",
    "Execution",
    "Forbidden",
    "IntegerRange",
    "InvalidInput",
    "ModelError",
    "ModelVersion",
    "MonitoringSchedule",
    "NotFound",
    "OpenSageError",
    "PayloadTooLarge",
    "ServerUnavailable",
    "TrainingJob",
    "TransformJob",
    "TuningJob",
    "Unauthorized",
    "__version__",
    "log_metric",
    "tune",
]
