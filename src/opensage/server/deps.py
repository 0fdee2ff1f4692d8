"""FastAPI dependencies: the platform and its services, and the one access check."""

from __future__ import annotations

from fastapi import Request

from opensage.auth.policy import Permission, allows, route_permission
from opensage.auth.service import AuthService, require_permission_error
from opensage.datasets.service import DatasetService
from opensage.errors import Forbidden
from opensage.monitoring.service import MonitoringService
from opensage.platform import Platform
from opensage.registry.service import RegistryService
from opensage.serving.service import EndpointService
from opensage.training.service import TrainingService
from opensage.transform.service import TransformService
from opensage.tuning.service import TuningService

SESSION_COOKIE = "opensage_session"
"""The console's sign-in: the API key, in an HttpOnly, SameSite=Strict cookie."""


def get_platform(request: Request) -> Platform:
    """The platform this app serves."""
    platform: Platform = request.app.state.platform
    return platform


def get_datasets(request: Request) -> DatasetService:
    """The datasets service."""
    return get_platform(request).datasets


def get_training(request: Request) -> TrainingService:
    """The training service."""
    return get_platform(request).training


def get_tuning(request: Request) -> TuningService:
    """The tuning service."""
    return get_platform(request).tuning


def get_registry(request: Request) -> RegistryService:
    """The model registry."""
    return get_platform(request).registry


def get_endpoints(request: Request) -> EndpointService:
    """The endpoints service."""
    return get_platform(request).endpoints


def get_transform(request: Request) -> TransformService:
    """The batch transform service."""
    return get_platform(request).transform


def get_monitoring(request: Request) -> MonitoringService:
    """The monitoring service."""
    return get_platform(request).monitoring


def get_auth(request: Request) -> AuthService:
    """The auth service."""
    return get_platform(request).auth


def authorize(request: Request) -> None:
    """Check the caller against the permission the matched route declares.

    Runs for every API route (an app-wide dependency): 401 without a valid key, 403 when
    the caller's role lacks the permission, and 403 for a route that declared none.
    """
    permission = route_permission(request.scope.get("route"))
    if permission is None:
        raise Forbidden("this route has no access rule, so nobody may call it")
    if permission is Permission.PUBLIC:
        return
    authorization = request.headers.get("authorization")
    if authorization is None and SESSION_COOKIE in request.cookies:
        authorization = f"Bearer {request.cookies[SESSION_COOKIE]}"
    principal = get_auth(request).authenticate(authorization)
    request.state.principal = principal
    if not allows(principal.role, permission):
        raise require_permission_error(principal, permission.value)
