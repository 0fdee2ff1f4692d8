"""Every table of the platform, gathered so migrations see the whole schema."""

from opensage.auth.models import ApiKey, AuditEvent, User
from opensage.datasets.models import Dataset, DatasetVersion
from opensage.db.base import Base
from opensage.training.models import TrainingJob, TrainingJobTag, TrainingMetric
from opensage.tuning.models import TuningJob, TuningTrial

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Dataset",
    "DatasetVersion",
    "TrainingJob",
    "TrainingJobTag",
    "TrainingMetric",
    "TuningJob",
    "TuningTrial",
    "User",
]
