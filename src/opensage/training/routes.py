"""HTTP routes of the training capability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from opensage.auth.policy import Permission, rule
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_training
from opensage.training.schemas import LogChunk, MetricPoint, TrainingJobCreate, TrainingJobOut
from opensage.training.service import MAX_LOG_CHUNK, TrainingService
from opensage.training.states import TrainingJobStatus

router = APIRouter(prefix="/api/v1/training-jobs", tags=["training"])

Service = Annotated[TrainingService, Depends(get_training)]
READ = rule(Permission.TRAINING_READ)
WRITE = rule(Permission.TRAINING_WRITE)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TrainingJobOut, openapi_extra=WRITE
)
async def create_training_job(body: TrainingJobCreate, service: Service) -> TrainingJobOut:
    """Submit a job (a built-in algorithm or your script); it starts when CPU slots are free."""
    return await run_in_threadpool(service.create, body)


@router.get("", response_model=Page[TrainingJobOut], openapi_extra=READ)
async def list_training_jobs(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: str | None = None,
    status_equals: Annotated[TrainingJobStatus | None, Query(alias="status")] = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
    tag: Annotated[str | None, Query(max_length=255, description="KEY or KEY=VALUE")] = None,
) -> Page[TrainingJobOut]:
    """Training jobs, newest first."""
    return await run_in_threadpool(
        service.list_jobs,
        limit=limit,
        page_token=page_token,
        status=status_equals,
        name_contains=name_contains,
        tag=tag,
    )


@router.get("/{name}", response_model=TrainingJobOut, openapi_extra=READ)
async def get_training_job(name: str, service: Service) -> TrainingJobOut:
    """A training job: status, timeline, hyperparameters, final metrics, model artifact."""
    return await run_in_threadpool(service.get, name)


@router.post("/{name}/stop", response_model=TrainingJobOut, openapi_extra=WRITE)
async def stop_training_job(name: str, service: Service) -> TrainingJobOut:
    """Stop a job (SIGTERM, then SIGKILL after a grace period)."""
    return await run_in_threadpool(service.stop, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_training_job(name: str, service: Service) -> Response:
    """Delete an ended job with its metrics, logs and model files."""
    await run_in_threadpool(service.delete, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/metrics", response_model=list[MetricPoint], openapi_extra=READ)
async def get_training_job_metrics(
    name: str, service: Service, metric: Annotated[str | None, Query(max_length=255)] = None
) -> list[MetricPoint]:
    """The job's metric time series (step, value, time)."""
    return await run_in_threadpool(service.metrics, name, metric)


@router.get("/{name}/logs", response_model=LogChunk, openapi_extra=READ)
async def get_training_job_logs(
    name: str,
    service: Service,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_CHUNK)] = MAX_LOG_CHUNK,
) -> LogChunk:
    """Part of the job's log from byte ``offset``; poll with ``next_offset`` to follow it."""
    return await run_in_threadpool(service.logs, name, offset, limit)
