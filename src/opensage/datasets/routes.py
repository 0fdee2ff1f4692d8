"""HTTP routes of the datasets capability (translation only; the logic is in the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from opensage.auth.policy import Permission, rule
from opensage.datasets.schemas import (
    DatasetCreate,
    DatasetOut,
    DatasetStatistics,
    DatasetVersionCreate,
    DatasetVersionOut,
)
from opensage.datasets.service import DatasetService
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_datasets

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

Service = Annotated[DatasetService, Depends(get_datasets)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
VersionQuery = Annotated[int | None, Query(ge=1, description="Version; default: the latest.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionOut,
    openapi_extra=rule(Permission.DATASETS_WRITE),
)
async def create_dataset(body: DatasetCreate, service: Service) -> DatasetVersionOut:
    """Create a dataset from a source (an upload, an s3:// URI or a server-side path)."""
    return await run_in_threadpool(service.create, body)


@router.get("", response_model=Page[DatasetOut], openapi_extra=rule(Permission.DATASETS_READ))
async def list_datasets(
    service: Service,
    limit: Limit = DEFAULT_LIMIT,
    page_token: str | None = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[DatasetOut]:
    """Datasets by name, a page at a time."""
    return await run_in_threadpool(
        service.list_datasets, limit=limit, page_token=page_token, name_contains=name_contains
    )


@router.get("/{name}", response_model=DatasetOut, openapi_extra=rule(Permission.DATASETS_READ))
async def get_dataset(name: str, service: Service) -> DatasetOut:
    """A dataset and its latest version."""
    return await run_in_threadpool(service.get, name)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=rule(Permission.DATASETS_WRITE)
)
async def delete_dataset(name: str, service: Service) -> Response:
    """Delete a dataset, its versions and their files."""
    await run_in_threadpool(service.delete, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetVersionOut,
    openapi_extra=rule(Permission.DATASETS_WRITE),
)
async def create_dataset_version(
    name: str, body: DatasetVersionCreate, service: Service
) -> DatasetVersionOut:
    """Add a new immutable version to a dataset."""
    return await run_in_threadpool(service.create_version, name, body)


@router.get(
    "/{name}/versions",
    response_model=Page[DatasetVersionOut],
    openapi_extra=rule(Permission.DATASETS_READ),
)
async def list_dataset_versions(
    name: str, service: Service, limit: Limit = DEFAULT_LIMIT, page_token: str | None = None
) -> Page[DatasetVersionOut]:
    """The versions of a dataset, newest first."""
    return await run_in_threadpool(service.list_versions, name, limit=limit, page_token=page_token)


@router.get(
    "/{name}/versions/{version}",
    response_model=DatasetVersionOut,
    openapi_extra=rule(Permission.DATASETS_READ),
)
async def get_dataset_version(name: str, version: int, service: Service) -> DatasetVersionOut:
    """One version of a dataset."""
    return await run_in_threadpool(service.get_version, name, version)


@router.get(
    "/{name}/statistics",
    response_model=DatasetStatistics,
    openapi_extra=rule(Permission.DATASETS_READ),
)
async def get_dataset_statistics(
    name: str, service: Service, version: VersionQuery = None
) -> DatasetStatistics:
    """Per-column statistics of a version."""
    return await run_in_threadpool(service.statistics, name, version)


@router.get(
    "/{name}/data",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
    openapi_extra=rule(Permission.DATASETS_READ),
)
async def get_dataset_data(
    name: str,
    service: Service,
    version: VersionQuery = None,
    split: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """The rows of a version (or of one split) as a Parquet file."""
    chunks = await run_in_threadpool(service.export, name, version, split)
    suffix = f"-{split}" if split else ""
    return StreamingResponse(
        chunks,
        media_type="application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="{name}{suffix}.parquet"'},
    )
