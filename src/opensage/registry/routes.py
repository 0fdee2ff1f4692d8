"""HTTP routes of the model registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from opensage.auth.policy import Permission, rule
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.registry.schemas import (
    ApprovalUpdate,
    ModelGroupCreate,
    ModelGroupOut,
    ModelVersionCreate,
    ModelVersionOut,
)
from opensage.registry.service import RegistryService
from opensage.server.deps import get_registry

router = APIRouter(prefix="/api/v1/model-groups", tags=["registry"])

Service = Annotated[RegistryService, Depends(get_registry)]
READ = rule(Permission.MODELS_READ)
WRITE = rule(Permission.MODELS_WRITE)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ModelGroupOut, openapi_extra=WRITE
)
async def create_model_group(body: ModelGroupCreate, service: Service) -> ModelGroupOut:
    """Create an empty model group (registering a version creates one too)."""
    return await run_in_threadpool(service.create_group, body)


@router.get("", response_model=Page[ModelGroupOut], openapi_extra=READ)
async def list_model_groups(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: str | None = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[ModelGroupOut]:
    """Model groups, newest first."""
    return await run_in_threadpool(
        service.list_groups, limit=limit, page_token=page_token, name_contains=name_contains
    )


@router.get("/{name}", response_model=ModelGroupOut, openapi_extra=READ)
async def get_model_group(name: str, service: Service) -> ModelGroupOut:
    """A model group and its newest version number."""
    return await run_in_threadpool(service.get_group, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_model_group(name: str, service: Service) -> Response:
    """Delete a group and its versions (none may be deployed)."""
    await run_in_threadpool(service.delete_group, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=ModelVersionOut,
    openapi_extra=WRITE,
)
async def register_model_version(
    name: str, body: ModelVersionCreate, service: Service
) -> ModelVersionOut:
    """Register a new version from a completed training job or uploaded model files."""
    return await run_in_threadpool(service.register, name, body)


@router.get("/{name}/versions", response_model=list[ModelVersionOut], openapi_extra=READ)
async def list_model_versions(name: str, service: Service) -> list[ModelVersionOut]:
    """Every version of the group, newest first."""
    return await run_in_threadpool(service.list_versions, name)


@router.get("/{name}/versions/{version}", response_model=ModelVersionOut, openapi_extra=READ)
async def get_model_version(name: str, version: int, service: Service) -> ModelVersionOut:
    """One version: approval, metrics, lineage."""
    return await run_in_threadpool(service.get_version, name, version)


@router.patch("/{name}/versions/{version}", response_model=ModelVersionOut, openapi_extra=WRITE)
async def update_model_version(
    name: str, version: int, body: ApprovalUpdate, service: Service
) -> ModelVersionOut:
    """Approve or reject a version."""
    return await run_in_threadpool(service.set_approval, name, version, body)


@router.delete(
    "/{name}/versions/{version}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE
)
async def delete_model_version(name: str, version: int, service: Service) -> Response:
    """Delete a version no endpoint serves."""
    await run_in_threadpool(service.delete_version, name, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
