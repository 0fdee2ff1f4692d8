"""HTTP routes of the tuning capability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from opensage.auth.policy import Permission, rule
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_tuning
from opensage.tuning.schemas import ParameterImportance, TrialOut, TuningJobCreate, TuningJobOut
from opensage.tuning.service import TuningService
from opensage.tuning.states import TuningJobStatus

router = APIRouter(prefix="/api/v1/tuning-jobs", tags=["tuning"])

Service = Annotated[TuningService, Depends(get_tuning)]
READ = rule(Permission.TUNING_READ)
WRITE = rule(Permission.TUNING_WRITE)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TuningJobOut, openapi_extra=WRITE
)
async def create_tuning_job(body: TuningJobCreate, service: Service) -> TuningJobOut:
    """Start a search: trials run as training jobs, as many at once as allowed and free."""
    return await run_in_threadpool(service.create, body)


@router.get("", response_model=Page[TuningJobOut], openapi_extra=READ)
async def list_tuning_jobs(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: str | None = None,
    status_equals: Annotated[TuningJobStatus | None, Query(alias="status")] = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[TuningJobOut]:
    """Tuning jobs, newest first."""
    return await run_in_threadpool(
        service.list_jobs,
        limit=limit,
        page_token=page_token,
        status=status_equals,
        name_contains=name_contains,
    )


@router.get("/{name}", response_model=TuningJobOut, openapi_extra=READ)
async def get_tuning_job(name: str, service: Service) -> TuningJobOut:
    """A tuning job: status, trial counts and the best trial so far."""
    return await run_in_threadpool(service.get, name)


@router.post("/{name}/stop", response_model=TuningJobOut, openapi_extra=WRITE)
async def stop_tuning_job(name: str, service: Service) -> TuningJobOut:
    """Stop the search and every trial still running."""
    return await run_in_threadpool(service.stop, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_tuning_job(name: str, service: Service) -> Response:
    """Delete an ended tuning job and its trials' training jobs."""
    await run_in_threadpool(service.delete, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/trials", response_model=list[TrialOut], openapi_extra=READ)
async def list_tuning_job_trials(name: str, service: Service) -> list[TrialOut]:
    """Every trial: its hyperparameters, status and objective value."""
    return await run_in_threadpool(service.trials, name)


@router.get(
    "/{name}/parameter-importances", response_model=list[ParameterImportance], openapi_extra=READ
)
async def get_parameter_importances(name: str, service: Service) -> list[ParameterImportance]:
    """How much each searched hyperparameter explains the objective (needs 2+ completed
    trials; empty before)."""
    return await run_in_threadpool(service.importances, name)
