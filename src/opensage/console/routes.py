"""The web console: server-rendered pages over the services, with live parts that call
the same REST API the SDK uses (from the browser, with the session cookie).

Signing in stores the API key in an HttpOnly, SameSite=Strict cookie, which the API
accepts like an ``Authorization`` header; with auth off (loopback) nobody signs in.
Pages offer only the actions the viewer's role may take.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from opensage.auth.policy import Permission, allows, rule
from opensage.auth.service import Principal
from opensage.errors import Forbidden, NotFound, ServerUnavailable, Unauthorized
from opensage.monitoring.schemas import MonitoringExecutionOut
from opensage.platform import Platform
from opensage.server.deps import SESSION_COOKIE, get_platform
from opensage.training.states import ACTIVE as TRAINING_ACTIVE
from opensage.training.states import TrainingJobStatus
from opensage.tuning.states import ACTIVE as TUNING_ACTIVE

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
PUBLIC = rule(Permission.PUBLIC)
"""Pages check who is viewing themselves, to send a stranger to the sign-in page."""
RECENT = 8
PAGE_SIZE = 50


class SignInNeeded(Exception):
    """The viewer must sign in first (turned into a redirect by the app)."""

    def __init__(self, target: str) -> None:
        self.target = target


@dataclass
class Viewer:
    """Who is looking, and what the pages may offer them."""

    principal: Principal
    auth_enabled: bool

    def can(self, permission: str) -> bool:
        return allows(self.principal.role, Permission(permission))


def viewer(request: Request) -> Viewer:
    """The signed-in viewer (anyone, with auth off); else off to the sign-in page."""
    auth = get_platform(request).auth
    key = request.cookies.get(SESSION_COOKIE)
    try:
        principal = auth.authenticate(f"Bearer {key}" if key else None)
    except Unauthorized:
        raise SignInNeeded(str(request.url.path)) from None
    return Viewer(principal=principal, auth_enabled=auth.enabled)


Seen = Annotated[Viewer, Depends(viewer)]
Services = Annotated[Platform, Depends(get_platform)]


def page(request: Request, name: str, who: Viewer, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"viewer": who, **context})


async def listing(
    request: Request,
    who: Viewer,
    name: str,
    lister: Callable[..., Any],
    page_token: str | None,
    filters: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A list page: one page of ``lister``'s resources, newest first."""
    listed = await run_in_threadpool(
        lambda: lister(limit=PAGE_SIZE, page_token=page_token, **(filters or {}))
    )
    return page(request, name, who, page=listed, **context)


def sign_in_redirect(request: Request, exc: SignInNeeded) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.target)}", status_code=303)


# -- signing in -------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return templates.TemplateResponse(
        request, "login.html", {"next": _local(next), "error": None, "viewer": None}
    )


@router.post("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def login(
    request: Request,
    services: Services,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        await run_in_threadpool(services.auth.authenticate, f"Bearer {api_key.strip()}")
    except Unauthorized as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _local(next), "error": exc.message, "viewer": None},
            status_code=401,
        )
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, api_key.strip(), httponly=True, samesite="strict", max_age=12 * 3600
    )
    return response


@router.post("/logout", openapi_extra=PUBLIC)
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _local(target: str) -> str:
    """Only paths on this server (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


# -- pages ------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def home(request: Request, who: Seen, services: Services) -> HTMLResponse:
    """Counts, what is running now, and the latest of everything."""

    def gather() -> dict[str, Any]:
        running = services.training.list_jobs(limit=RECENT, status=TrainingJobStatus.IN_PROGRESS)
        return {
            "counts": {
                "datasets": services.datasets.count(),
                "training jobs": _count(services.training.list_jobs),
                "tuning jobs": _count(services.tuning.list_jobs),
                "endpoints": _count(services.endpoints.list_endpoints),
            },
            "running": running.items,
            "datasets": services.datasets.list_datasets(limit=RECENT).items,
            "jobs": services.training.list_jobs(limit=RECENT).items,
            "endpoints": services.endpoints.list_endpoints(limit=RECENT).items,
        }

    return page(request, "home.html", who, **await run_in_threadpool(gather))


@router.get("/datasets", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def datasets_page(
    request: Request, who: Seen, services: Services, page_token: str | None = None
) -> HTMLResponse:
    return await listing(request, who, "datasets.html", services.datasets.list_datasets, page_token)


@router.get("/datasets/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def dataset_page(
    request: Request,
    who: Seen,
    services: Services,
    name: str,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        chosen = services.datasets.get_version(name, version)
        return {
            "dataset": services.datasets.get(name),
            "version": chosen,
            "statistics": services.datasets.statistics(name, chosen.version),
            "versions": services.datasets.list_versions(name, limit=50).items,
        }

    return page(request, "dataset.html", who, **await _found(gather))


@router.get("/training-jobs", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def training_jobs_page(
    request: Request,
    who: Seen,
    services: Services,
    status: TrainingJobStatus | None = None,
    page_token: str | None = None,
) -> HTMLResponse:
    return await listing(
        request,
        who,
        "training_jobs.html",
        services.training.list_jobs,
        page_token,
        {"status": status},
        status=status,
        statuses=list(TrainingJobStatus),
    )


@router.get("/training-jobs/compare", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def compare_page(
    request: Request,
    who: Seen,
    services: Services,
    names: Annotated[str, Query(max_length=1000)] = "",
) -> HTMLResponse:
    """Several jobs side by side: hyperparameters (the differing ones marked), final
    metrics, and their curves on shared charts."""
    wanted = [n.strip() for n in names.split(",") if n.strip()][:8]

    def gather() -> dict[str, Any]:
        jobs = [services.training.get(name) for name in wanted]
        hyperparameters = sorted({k for job in jobs for k in job.hyperparameters})
        differing = {
            k for k in hyperparameters if len({job.hyperparameters.get(k) for job in jobs}) > 1
        }
        metrics = sorted({k for job in jobs for k in job.final_metrics})
        return {
            "jobs": jobs,
            "names": wanted,
            "hyperparameters": hyperparameters,
            "differing": differing,
            "metrics": metrics,
        }

    return page(request, "compare.html", who, **await _found(gather))


@router.get("/training-jobs/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def training_job_page(
    request: Request, who: Seen, services: Services, name: str
) -> HTMLResponse:
    job = await _found(lambda: services.training.get(name))
    return page(
        request,
        "training_job.html",
        who,
        job=job,
        active=job.status in TRAINING_ACTIVE,
    )


@router.get("/tuning-jobs", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def tuning_jobs_page(
    request: Request, who: Seen, services: Services, page_token: str | None = None
) -> HTMLResponse:
    return await listing(request, who, "tuning_jobs.html", services.tuning.list_jobs, page_token)


@router.get("/tuning-jobs/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def tuning_job_page(
    request: Request, who: Seen, services: Services, name: str
) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        job = services.tuning.get(name)
        return {
            "job": job,
            "active": job.status in TUNING_ACTIVE,
            "trials": services.tuning.trials(name),
            "importances": services.tuning.importances(name)
            if job.trial_counts.completed > 1
            else [],
            "parameters": sorted(job.parameter_ranges),
        }

    return page(request, "tuning_job.html", who, **await _found(gather))


@router.get("/models", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def models_page(
    request: Request, who: Seen, services: Services, page_token: str | None = None
) -> HTMLResponse:
    return await listing(request, who, "models.html", services.registry.list_groups, page_token)


@router.get("/models/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def model_page(request: Request, who: Seen, services: Services, name: str) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        return {
            "group": services.registry.get_group(name),
            "versions": services.registry.list_versions(name)[::-1],
        }

    return page(request, "model.html", who, **await _found(gather))


@router.get("/monitoring", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def monitoring_page(
    request: Request, who: Seen, services: Services, page_token: str | None = None
) -> HTMLResponse:
    return await listing(
        request, who, "monitoring.html", services.monitoring.list_schedules, page_token
    )


@router.get("/monitoring/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def monitoring_schedule_page(
    request: Request,
    who: Seen,
    services: Services,
    name: str,
    execution: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        schedule = services.monitoring.get_schedule(name)
        executions = services.monitoring.list_executions(name, limit=50).items
        shown: MonitoringExecutionOut | None
        if execution is not None:
            shown = services.monitoring.get_execution(name, execution)
        else:  # the latest with a report, else the latest
            shown = next((e for e in executions if e.report), executions[0] if executions else None)
        quality = [
            {"number": e.number, **e.report.model_quality.metrics}
            for e in reversed(executions)
            if e.report is not None and e.report.model_quality is not None
        ]
        return {"schedule": schedule, "executions": executions, "shown": shown, "quality": quality}

    return page(request, "monitoring_schedule.html", who, **await _found(gather))


@router.get("/endpoints", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def endpoints_page(
    request: Request, who: Seen, services: Services, page_token: str | None = None
) -> HTMLResponse:
    return await listing(
        request, who, "endpoints.html", services.endpoints.list_endpoints, page_token
    )


@router.get("/endpoints/{name}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def endpoint_page(request: Request, who: Seen, services: Services, name: str) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        endpoint = services.endpoints.get(name)
        variant = endpoint.variants[0]
        try:
            model = services.registry.get_version(variant.model_group, variant.model_version)
            width = len(model.feature_names) or 1
        except NotFound:
            width = 1
        return {"endpoint": endpoint, "example": ",".join(["0"] * width)}

    return page(request, "endpoint.html", who, **await _found(gather))


@router.get("/endpoints/{name}/live", openapi_extra=PUBLIC)
async def endpoint_live(who: Seen, services: Services, name: str) -> dict[str, Any]:
    """The endpoint's counters now, for the live chart (the page computes the rates)."""
    _require(who, Permission.ENDPOINTS_READ)
    return await run_in_threadpool(services.endpoints.live_metrics, name)


class TryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=1_000_000)
    content_type: Literal["text/csv", "application/json", "application/jsonlines"]


@router.post("/endpoints/{name}/try", openapi_extra=PUBLIC)
async def endpoint_try(
    request: Request, who: Seen, services: Services, name: str, attempt: TryRequest
) -> dict[str, Any]:
    """Send the form's request to the endpoint's data plane, as the viewer."""
    _require(who, Permission.ENDPOINTS_INVOKE)
    endpoint = await run_in_threadpool(services.endpoints.get, name)
    host = services.settings.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{host}:{endpoint.data_plane_port}/endpoints/{name}/invocations"
    key = request.cookies.get(SESSION_COOKIE)
    headers: dict[str, str] = {"Content-Type": attempt.content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30.0) as client:
        try:
            answer = await client.post(url, content=attempt.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"the data plane of {name!r} does not answer: {exc}") from None
    return {
        "status": answer.status_code,
        "content_type": answer.headers.get("content-type", ""),
        "body": answer.text,
        "variant": answer.headers.get("x-amzn-invoked-production-variant"),
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


def _require(who: Viewer, permission: Permission) -> None:
    if not who.can(permission.value):
        raise Forbidden(f"role {who.principal.role.value} may not {permission.value}")


async def _found(gather: Any) -> Any:
    """``gather()`` on a thread; a missing resource is the not-found page."""
    try:
        return await run_in_threadpool(gather)
    except NotFound as exc:
        raise PageNotFound(exc.message) from None


class PageNotFound(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def not_found_page(request: Request, exc: PageNotFound) -> Response:
    who = None
    with contextlib.suppress(SignInNeeded):
        who = viewer(request)
    return templates.TemplateResponse(
        request, "not_found.html", {"message": exc.message, "viewer": who}, status_code=404
    )


def _count(list_page: Any) -> str:
    """How many there are, from a page of 200 (as "200+" beyond)."""
    found = list_page(limit=200)
    return f"{len(found.items)}+" if found.next_page_token else str(len(found.items))
