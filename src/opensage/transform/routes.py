"""HTTP routes of the batch transform capability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from opensage.auth.policy import Permission, rule
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_transform
from opensage.transform.schemas import OutputFile, TransformJobCreate, TransformJobOut
from opensage.transform.service import TransformService
from opensage.transform.states import TransformJobStatus

router = APIRouter(prefix="/api/v1/transform-jobs", tags=["transform"])

Service = Annotated[TransformService, Depends(get_transform)]
READ = rule(Permission.TRANSFORM_READ)
WRITE = rule(Permission.TRANSFORM_WRITE)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TransformJobOut, openapi_extra=WRITE
)
async def create_transform_job(body: TransformJobCreate, service: Service) -> TransformJobOut:
    """Submit a batch transform: a registered model's predictions over a dataset or files."""
    return await run_in_threadpool(service.create, body)


@router.get("", response_model=Page[TransformJobOut], openapi_extra=READ)
async def list_transform_jobs(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: str | None = None,
    status_equals: Annotated[TransformJobStatus | None, Query(alias="status")] = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[TransformJobOut]:
    """Transform jobs, newest first."""
    return await run_in_threadpool(
        service.list_jobs,
        limit=limit,
        page_token=page_token,
        status=status_equals,
        name_contains=name_contains,
    )


@router.get("/{name}", response_model=TransformJobOut, openapi_extra=READ)
async def get_transform_job(name: str, service: Service) -> TransformJobOut:
    """A transform job: status, progress (rows done of rows total), output."""
    return await run_in_threadpool(service.get, name)


@router.post("/{name}/stop", response_model=TransformJobOut, openapi_extra=WRITE)
async def stop_transform_job(name: str, service: Service) -> TransformJobOut:
    """Stop a job; no output is written."""
    return await run_in_threadpool(service.stop, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_transform_job(name: str, service: Service) -> Response:
    """Delete an ended job (an output dataset, or files at your own path, stay)."""
    await run_in_threadpool(service.delete, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/output-files", response_model=list[OutputFile], openapi_extra=READ)
async def list_transform_output_files(name: str, service: Service) -> list[OutputFile]:
    """The files a completed job wrote under its output path."""
    return await run_in_threadpool(service.output_files, name)


@router.get("/{name}/output-files/{file:path}", openapi_extra=READ)
async def read_transform_output_file(name: str, file: str, service: Service) -> StreamingResponse:
    """The content of one output file."""
    chunks = await run_in_threadpool(service.read_output, name, file)
    return StreamingResponse(chunks, media_type="application/octet-stream")
