"""OpenSage: a self-hosted machine-learning platform.

The public SDK surface: ``Client`` and the typed errors it raises.
"""

from opensage._version import __version__
from opensage.algorithms.base import log_metric
from opensage.client import Client, Dataset, TrainingJob, TuningJob, tune
from opensage.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OpenSageError,
    PayloadTooLarge,
    ServerUnavailable,
    Unauthorized,
)
from opensage.tuning.schemas import CategoricalRange, ContinuousRange, IntegerRange

__all__ = [
    "CategoricalRange",
    "Client",
    "Conflict",
    "ContinuousRange",
    "Dataset",
    "Forbidden",
    "IntegerRange",
    "InvalidInput",
    "NotFound",
    "OpenSageError",
    "PayloadTooLarge",
    "ServerUnavailable",
    "TrainingJob",
    "TuningJob",
    "Unauthorized",
    "__version__",
    "log_metric",
    "tune",
]
