"""HTTP routes of the auth capability: whoami, users, API keys, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from opensage.auth.policy import Permission, rule
from opensage.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditEventOut,
    UserCreate,
    UserOut,
    UserUpdate,
    WhoAmI,
)
from opensage.auth.service import AuthService, Principal
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_auth

router = APIRouter(prefix="/api/v1", tags=["auth"])

Service = Annotated[AuthService, Depends(get_auth)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _caller(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


@router.get("/whoami", response_model=WhoAmI, openapi_extra=rule(Permission.SELF))
async def whoami(request: Request, service: Service) -> WhoAmI:
    """Who the server thinks you are."""
    caller = _caller(request)
    return WhoAmI(name=caller.name, role=caller.role, auth_enabled=service.enabled)


@router.get("/users", response_model=Page[UserOut], openapi_extra=rule(Permission.USERS_MANAGE))
async def list_users(
    service: Service, limit: Limit = DEFAULT_LIMIT, page_token: str | None = None
) -> Page[UserOut]:
    """Users by name."""
    return await run_in_threadpool(service.list_users, limit=limit, page_token=page_token)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    openapi_extra=rule(Permission.USERS_MANAGE),
)
async def create_user(body: UserCreate, service: Service) -> UserOut:
    """Create a user with a role (admin, scientist, labeler, viewer)."""
    return await run_in_threadpool(service.create_user, body)


@router.get("/users/{name}", response_model=UserOut, openapi_extra=rule(Permission.USERS_MANAGE))
async def get_user(name: str, service: Service) -> UserOut:
    """One user."""
    return await run_in_threadpool(service.get_user, name)


@router.patch("/users/{name}", response_model=UserOut, openapi_extra=rule(Permission.USERS_MANAGE))
async def update_user(name: str, body: UserUpdate, request: Request, service: Service) -> UserOut:
    """Change a user's role, or disable them."""
    return await run_in_threadpool(service.update_user, name, body, _caller(request))


@router.post(
    "/users/{name}/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    openapi_extra=rule(Permission.USERS_MANAGE),
)
async def create_user_api_key(name: str, body: ApiKeyCreate, service: Service) -> ApiKeyCreated:
    """Create an API key for a user (shown once)."""
    return await run_in_threadpool(service.create_key, name, body)


@router.get(
    "/users/{name}/keys",
    response_model=list[ApiKeyOut],
    openapi_extra=rule(Permission.USERS_MANAGE),
)
async def list_user_api_keys(name: str, service: Service) -> list[ApiKeyOut]:
    """A user's keys (metadata only)."""
    return await run_in_threadpool(service.list_keys, name)


@router.get("/keys", response_model=list[ApiKeyOut], openapi_extra=rule(Permission.SELF))
async def list_api_keys(request: Request, service: Service) -> list[ApiKeyOut]:
    """Your own keys (metadata only)."""
    return await run_in_threadpool(service.list_keys, _caller(request).name)


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    openapi_extra=rule(Permission.SELF),
)
async def create_api_key(body: ApiKeyCreate, request: Request, service: Service) -> ApiKeyCreated:
    """Create a key for yourself (shown once)."""
    return await run_in_threadpool(service.create_key, _caller(request).name, body)


@router.delete("/keys/{key_id}", response_model=ApiKeyOut, openapi_extra=rule(Permission.SELF))
async def revoke_api_key(key_id: str, request: Request, service: Service) -> ApiKeyOut:
    """Revoke a key (your own, or anyone's as an admin)."""
    return await run_in_threadpool(service.revoke_key, key_id, _caller(request))


@router.get(
    "/audit-events",
    response_model=Page[AuditEventOut],
    openapi_extra=rule(Permission.AUDIT_READ),
)
async def list_audit_events(
    service: Service,
    limit: Limit = DEFAULT_LIMIT,
    page_token: str | None = None,
    actor: Annotated[str | None, Query(max_length=63)] = None,
    action: Annotated[str | None, Query(max_length=63)] = None,
    resource_type: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[AuditEventOut]:
    """The audit log, newest first."""
    return await run_in_threadpool(
        service.list_audit,
        limit=limit,
        page_token=page_token,
        actor=actor,
        action=action,
        resource_type=resource_type,
    )
