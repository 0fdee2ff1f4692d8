"""Pydantic shapes of the endpoints API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opensage.names import ResourceName
from opensage.serving.states import EndpointStatus
from opensage.tags import Tags

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""SageMaker's invocation payload limit."""


class VariantSpec(BaseModel):
    """A production variant: a model version, its worker processes and traffic weight."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName = "AllTraffic"
    model_group: ResourceName
    model_version: int | None = Field(
        default=None, ge=1, description="Default: the group's newest approved version."
    )
    instance_count: int = Field(default=1, ge=1, le=32, description="Worker processes.")
    initial_weight: float = Field(default=1.0, ge=0.0, le=1000.0)
    max_batch_size: int = Field(
        default=256, ge=1, le=100_000, description="Rows per batched predict call."
    )
    max_batch_wait_ms: float = Field(
        default=0.0, ge=0.0, le=1000.0, description="How long a batch waits for more rows."
    )


class DataCaptureConfig(BaseModel):
    """Which invocations are captured to the artifact store."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    sampling_percentage: float = Field(default=100.0, gt=0.0, le=100.0)


class EndpointConfig(BaseModel):
    """What an endpoint serves."""

    model_config = ConfigDict(extra="forbid")

    variants: list[VariantSpec] = Field(min_length=1, max_length=10)
    data_capture: DataCaptureConfig = Field(default_factory=DataCaptureConfig)
    force: bool = Field(default=False, description="Deploy model versions not yet approved.")

    @model_validator(mode="after")
    def _variants(self) -> EndpointConfig:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be distinct: {names}")
        if sum(v.initial_weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a weight above 0")
        return self


class EndpointCreate(EndpointConfig):
    """Create an endpoint."""

    name: ResourceName
    tags: Tags = Field(default_factory=dict)


class EndpointUpdate(EndpointConfig):
    """Move an endpoint to a new config (blue/green)."""


class VariantOut(BaseModel):
    """A variant as deployed."""

    name: str
    model_group: str
    model_version: int
    instance_count: int
    initial_weight: float
    max_batch_size: int
    max_batch_wait_ms: float


class EndpointOut(BaseModel):
    """An endpoint as the API shows it."""

    name: str
    status: EndpointStatus
    failure_reason: str | None
    variants: list[VariantOut]
    data_capture: DataCaptureConfig
    data_plane_port: int
    invocation_url: str
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
