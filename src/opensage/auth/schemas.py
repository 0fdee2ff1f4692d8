"""Pydantic shapes of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opensage.auth.policy import Role
from opensage.names import ResourceName


class UserCreate(BaseModel):
    """Create a user."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    role: Role


class UserUpdate(BaseModel):
    """Change a user's role or disable them (a disabled user's keys stop working)."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None


class UserOut(BaseModel):
    """A user as the API shows it."""

    name: str
    role: Role
    disabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    """Create an API key; it is shown once, in the answer."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=63, description="What the key is for.")
    expires_in_days: float | None = Field(
        default=None, gt=0, le=3650, description="Days until the key stops working."
    )


class ApiKeyOut(BaseModel):
    """An API key's metadata (never its secret)."""

    key_id: str
    user: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A new key: ``key`` is shown only in this answer and stored only as a hash."""

    key: str


class WhoAmI(BaseModel):
    """The caller, as the server sees them."""

    name: str
    role: Role
    auth_enabled: bool


class AuditEventOut(BaseModel):
    """One audit-log entry."""

    id: int
    at: datetime
    actor: str
    action: str
    resource_type: str
    resource_name: str
    status: int
    details: dict[str, Any]
