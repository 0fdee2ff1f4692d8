"""HTTP routes of the monitoring capability: baselines, schedules, executions, ground
truth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from opensage.auth.policy import Permission, rule
from opensage.errors import PayloadTooLarge
from opensage.monitoring.schemas import (
    BaselineCreate,
    BaselineOut,
    Constraints,
    GroundTruthResult,
    MonitoringExecutionOut,
    MonitoringScheduleCreate,
    MonitoringScheduleOut,
    RunRequest,
    ScheduleUpdate,
)
from opensage.monitoring.service import MAX_GROUND_TRUTH_BYTES, MonitoringService
from opensage.monitoring.states import ExecutionStatus, ScheduleStatus
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_monitoring

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

Service = Annotated[MonitoringService, Depends(get_monitoring)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
READ = rule(Permission.MONITORING_READ)
WRITE = rule(Permission.MONITORING_WRITE)


# -- baselines --------------------------------------------------------------------------
@router.post(
    "/baselines",
    status_code=status.HTTP_201_CREATED,
    response_model=BaselineOut,
    openapi_extra=WRITE,
)
async def create_baseline(body: BaselineCreate, service: Service) -> BaselineOut:
    """Compute a baseline (statistics, suggested constraints) from a dataset version."""
    return await run_in_threadpool(service.create_baseline, body)


@router.get("/baselines", response_model=Page[BaselineOut], openapi_extra=READ)
async def list_baselines(
    service: Service,
    limit: Limit = DEFAULT_LIMIT,
    page_token: str | None = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[BaselineOut]:
    """Baselines, newest first."""
    return await run_in_threadpool(
        service.list_baselines, limit=limit, page_token=page_token, name_contains=name_contains
    )


@router.get("/baselines/{name}", response_model=BaselineOut, openapi_extra=READ)
async def get_baseline(name: str, service: Service) -> BaselineOut:
    """A baseline with its statistics and constraints."""
    return await run_in_threadpool(service.get_baseline, name)


@router.put("/baselines/{name}/constraints", response_model=BaselineOut, openapi_extra=WRITE)
async def update_baseline_constraints(
    name: str, body: Constraints, service: Service
) -> BaselineOut:
    """Replace a baseline's constraints (e.g. loosen a threshold)."""
    return await run_in_threadpool(service.update_constraints, name, body)


@router.delete("/baselines/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_baseline(name: str, service: Service) -> Response:
    """Delete a baseline no schedule uses."""
    await run_in_threadpool(service.delete_baseline, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- schedules --------------------------------------------------------------------------
@router.post(
    "/monitoring-schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=MonitoringScheduleOut,
    openapi_extra=WRITE,
)
async def create_monitoring_schedule(
    body: MonitoringScheduleCreate, service: Service
) -> MonitoringScheduleOut:
    """Monitor an endpoint's captured traffic against a baseline, every so often."""
    return await run_in_threadpool(service.create_schedule, body)


@router.get("/monitoring-schedules", response_model=Page[MonitoringScheduleOut], openapi_extra=READ)
async def list_monitoring_schedules(
    service: Service,
    limit: Limit = DEFAULT_LIMIT,
    page_token: str | None = None,
    endpoint: Annotated[str | None, Query(max_length=63)] = None,
    status_equals: Annotated[ScheduleStatus | None, Query(alias="status")] = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[MonitoringScheduleOut]:
    """Monitoring schedules, newest first."""
    return await run_in_threadpool(
        service.list_schedules,
        limit=limit,
        page_token=page_token,
        endpoint=endpoint,
        status=status_equals,
        name_contains=name_contains,
    )


@router.get(
    "/monitoring-schedules/{name}", response_model=MonitoringScheduleOut, openapi_extra=READ
)
async def get_monitoring_schedule(name: str, service: Service) -> MonitoringScheduleOut:
    """A schedule and its last execution."""
    return await run_in_threadpool(service.get_schedule, name)


@router.patch(
    "/monitoring-schedules/{name}", response_model=MonitoringScheduleOut, openapi_extra=WRITE
)
async def update_monitoring_schedule(
    name: str, body: ScheduleUpdate, service: Service
) -> MonitoringScheduleOut:
    """Change a schedule's webhook or retraining."""
    return await run_in_threadpool(service.update_schedule, name, body)


@router.post(
    "/monitoring-schedules/{name}/stop",
    response_model=MonitoringScheduleOut,
    openapi_extra=WRITE,
)
async def stop_monitoring_schedule(name: str, service: Service) -> MonitoringScheduleOut:
    """Stop scheduling executions (run-now still works)."""
    return await run_in_threadpool(service.set_schedule_status, name, ScheduleStatus.STOPPED)


@router.post(
    "/monitoring-schedules/{name}/start",
    response_model=MonitoringScheduleOut,
    openapi_extra=WRITE,
)
async def start_monitoring_schedule(name: str, service: Service) -> MonitoringScheduleOut:
    """Schedule executions again."""
    return await run_in_threadpool(service.set_schedule_status, name, ScheduleStatus.SCHEDULED)


@router.delete(
    "/monitoring-schedules/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE
)
async def delete_monitoring_schedule(name: str, service: Service) -> Response:
    """Delete a schedule and its executions."""
    await run_in_threadpool(service.delete_schedule, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/monitoring-schedules/{name}/executions",
    status_code=status.HTTP_201_CREATED,
    response_model=MonitoringExecutionOut,
    openapi_extra=WRITE,
)
async def run_monitoring_schedule(
    name: str, service: Service, body: RunRequest | None = None
) -> MonitoringExecutionOut:
    """Run a schedule now (over its next window, or the window given)."""
    return await run_in_threadpool(service.run_now, name, body)


@router.get(
    "/monitoring-schedules/{name}/executions",
    response_model=Page[MonitoringExecutionOut],
    openapi_extra=READ,
)
async def list_monitoring_executions(
    name: str,
    service: Service,
    limit: Limit = DEFAULT_LIMIT,
    page_token: str | None = None,
    status_equals: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
) -> Page[MonitoringExecutionOut]:
    """A schedule's executions with their reports, newest first."""
    return await run_in_threadpool(
        service.list_executions, name, limit=limit, page_token=page_token, status=status_equals
    )


@router.get(
    "/monitoring-schedules/{name}/executions/{number}",
    response_model=MonitoringExecutionOut,
    openapi_extra=READ,
)
async def get_monitoring_execution(
    name: str, number: int, service: Service
) -> MonitoringExecutionOut:
    """One execution: status, report (violations, per-feature drift, model quality),
    alert and retraining."""
    return await run_in_threadpool(service.get_execution, name, number)


# -- ground truth -----------------------------------------------------------------------
@router.post(
    "/endpoints/{name}/ground-truth",
    status_code=status.HTTP_201_CREATED,
    response_model=GroundTruthResult,
    openapi_extra={
        **WRITE,
        "requestBody": {
            "content": {
                "application/jsonlines": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            }
        },
    },
)
async def upload_ground_truth(name: str, request: Request, service: Service) -> GroundTruthResult:
    """Labels for captured events: JSON Lines (or a JSON list) of
    ``{"eventId": ..., "groundTruth": ...}``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_GROUND_TRUTH_BYTES:
            raise PayloadTooLarge(
                f"send at most {MAX_GROUND_TRUTH_BYTES:,} bytes of ground truth at a time",
                field="body",
            )
    return await run_in_threadpool(service.upload_ground_truth, name, bytes(body))
