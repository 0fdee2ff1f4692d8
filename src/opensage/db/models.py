"""Every table of the platform, gathered so migrations see the whole schema."""

from opensage.auth.models import ApiKey, AuditEvent, User
from opensage.datasets.models import Dataset, DatasetVersion
from opensage.db.base import Base
from opensage.monitoring.models import MonitoringBaseline, MonitoringExecution, MonitoringSchedule
from opensage.registry.models import ModelGroup, ModelVersion
from opensage.serving.models import Endpoint
from opensage.training.models import TrainingJob, TrainingJobTag, TrainingMetric
from opensage.transform.models import TransformJob
from opensage.tuning.models import TuningJob, TuningTrial

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Dataset",
    "DatasetVersion",
    "Endpoint",
    "ModelGroup",
    "ModelVersion",
    "MonitoringBaseline",
    "MonitoringExecution",
    "MonitoringSchedule",
    "TrainingJob",
    "TrainingJobTag",
    "TrainingMetric",
    "TransformJob",
    "TuningJob",
    "TuningTrial",
    "User",
]
