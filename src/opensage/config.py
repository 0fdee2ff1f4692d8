"""Platform settings: one object, read from ``OPENSAGE_*`` variables and overridden by CLI flags."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the platform keeps its metadata and artifacts, and where it listens."""

    model_config = SettingsConfigDict(env_prefix="OPENSAGE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".opensage"), description="Directory for the embedded database and artifacts."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite in data_dir.",
    )
    artifact_url: str | None = Field(
        default=None,
        description="Root of the artifact store: a local folder or s3://bucket/prefix; "
        "default: data_dir/artifacts.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (MinIO, Ceph, moto ...)."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_upload_bytes: int = Field(
        default=50 * 1024**3, gt=0, description="Largest file accepted by the upload API."
    )
    max_request_bytes: int = Field(
        default=1024**2, gt=0, description="Largest JSON request body accepted."
    )
    cpu_slots: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU slots the scheduler hands out to training jobs (default: all cores).",
    )
    warm_workers: bool = Field(
        default=True,
        description="Start the pre-imported fork server with the platform, so the first "
        "job starts fast too.",
    )
    job_stop_grace_s: float = Field(
        default=10.0, gt=0, description="Seconds between SIGTERM and SIGKILL when stopping."
    )
    auth: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="API keys and roles: 'auto' turns them on when the server listens "
        "beyond loopback; 'off' is only allowed on loopback.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Server secret for hashing API keys; default: a random one kept in "
        "data_dir/secret.key (mode 0600).",
    )
    admin_api_key: str | None = Field(
        default=None,
        description="Key for the admin bootstrapped on first start with auth on; "
        "default: a new key, printed once.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def auth_enabled(self) -> bool:
        """Whether callers need API keys: always beyond loopback, opt-in on it."""
        if self.auth == "auto":
            return not is_loopback(self.host)
        return self.auth == "on"

    @property
    def resolved_database_url(self) -> str:
        """The metadata store URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'opensage.db'}"

    @property
    def resolved_artifact_url(self) -> str:
        """The artifact store root, defaulting to a folder inside the data directory."""
        if self.artifact_url:
            return self.artifact_url
        return str(self.data_dir / "artifacts")

    @property
    def staging_dir(self) -> Path:
        """Local scratch space for uploads and conversions in progress."""
        return self.data_dir / "staging"

    @property
    def url(self) -> str:
        """The base URL clients use to reach this server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False
