"""Every table of the platform, gathered so migrations see the whole schema."""

from opensage.auth.models import ApiKey, AuditEvent, User
from opensage.datasets.models import Dataset, DatasetVersion
from opensage.db.base import Base
from opensage.training.models import TrainingJob, TrainingMetric

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Dataset",
    "DatasetVersion",
    "TrainingJob",
    "TrainingMetric",
    "User",
]
