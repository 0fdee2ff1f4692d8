"""Who may do what: permissions, roles, and the rule every route declares.

Every route names one permission (``openapi_extra={"x-permission": ...}``, written with
:func:`rule`); one dependency checks it against the caller's role. A route without a rule
is refused, and the route-table test fails, so no route can be forgotten.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

PERMISSION_KEY = "x-permission"


class Permission(StrEnum):
    """What a route lets a caller do."""

    PUBLIC = "public"  # anyone, even without a key (health)
    SELF = "self"  # any signed-in user, on their own account and keys
    DATASETS_READ = "datasets.read"
    DATASETS_WRITE = "datasets.write"
    TRAINING_READ = "training.read"
    TRAINING_WRITE = "training.write"
    TUNING_READ = "tuning.read"
    TUNING_WRITE = "tuning.write"
    MODELS_READ = "models.read"
    MODELS_WRITE = "models.write"
    ENDPOINTS_READ = "endpoints.read"
    ENDPOINTS_WRITE = "endpoints.write"
    ENDPOINTS_INVOKE = "endpoints.invoke"
    TRANSFORM_READ = "transform.read"
    TRANSFORM_WRITE = "transform.write"
    MONITORING_READ = "monitoring.read"
    MONITORING_WRITE = "monitoring.write"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"


class Role(StrEnum):
    """A user's role; roles are fixed sets of permissions."""

    ADMIN = "admin"
    SCIENTIST = "scientist"
    LABELER = "labeler"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SCIENTIST: frozenset(
        {
            Permission.PUBLIC,
            Permission.SELF,
            Permission.DATASETS_READ,
            Permission.DATASETS_WRITE,
            Permission.TRAINING_READ,
            Permission.TRAINING_WRITE,
            Permission.TUNING_READ,
            Permission.TUNING_WRITE,
            Permission.MODELS_READ,
            Permission.MODELS_WRITE,
            Permission.ENDPOINTS_READ,
            Permission.ENDPOINTS_WRITE,
            Permission.ENDPOINTS_INVOKE,
            Permission.TRANSFORM_READ,
            Permission.TRANSFORM_WRITE,
            Permission.MONITORING_READ,
            Permission.MONITORING_WRITE,
        }
    ),
    # Labelers see only the labeling work assigned to them (once labeling exists).
    Role.LABELER: frozenset({Permission.PUBLIC, Permission.SELF}),
    Role.VIEWER: frozenset(
        {
            Permission.PUBLIC,
            Permission.SELF,
            Permission.DATASETS_READ,
            Permission.TRAINING_READ,
            Permission.TUNING_READ,
            Permission.MODELS_READ,
            Permission.ENDPOINTS_READ,
            Permission.ENDPOINTS_INVOKE,
            Permission.TRANSFORM_READ,
            Permission.MONITORING_READ,
        }
    ),
}


def rule(permission: Permission) -> dict[str, Any]:
    """The ``openapi_extra`` that declares a route's permission (and documents it)."""
    return {PERMISSION_KEY: permission.value}


def allows(role: Role, permission: Permission) -> bool:
    """Whether ``role`` includes ``permission``."""
    return permission in ROLE_PERMISSIONS[role]


def route_permission(route: Any) -> Permission | None:
    """The permission a route declared, or None when it declared none."""
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(PERMISSION_KEY)
    try:
        return Permission(value) if value is not None else None
    except ValueError:
        return None
