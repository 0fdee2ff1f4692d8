"""OpenSage: a self-hosted machine-learning platform.

The public SDK surface: ``Client`` and the typed errors it raises.
"""

from opensage._version import __version__
from opensage.algorithms.base import log_metric
from opensage.client import Client, Dataset, TrainingJob
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

__all__ = [
    "Client",
    "Conflict",
    "Dataset",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "OpenSageError",
    "PayloadTooLarge",
    "ServerUnavailable",
    "TrainingJob",
    "Unauthorized",
    "__version__",
    "log_metric",
]
