"""HTTP routes of the serving control plane (the data plane is each endpoint's workers)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from opensage.auth.policy import Permission, rule
from opensage.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from opensage.server.deps import get_endpoints
from opensage.serving.schemas import EndpointCreate, EndpointOut, EndpointUpdate
from opensage.serving.service import EndpointService
from opensage.serving.states import EndpointStatus

router = APIRouter(prefix="/api/v1/endpoints", tags=["endpoints"])
runtime = APIRouter(tags=["endpoints"])

Service = Annotated[EndpointService, Depends(get_endpoints)]
READ = rule(Permission.ENDPOINTS_READ)
WRITE = rule(Permission.ENDPOINTS_WRITE)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=EndpointOut, openapi_extra=WRITE
)
async def create_endpoint(body: EndpointCreate, service: Service) -> EndpointOut:
    """Deploy model versions behind an HTTP endpoint (Creating, then InService)."""
    return await run_in_threadpool(service.create, body)


@router.get("", response_model=Page[EndpointOut], openapi_extra=READ)
async def list_endpoints(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: str | None = None,
    status_equals: Annotated[EndpointStatus | None, Query(alias="status")] = None,
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[EndpointOut]:
    """Endpoints, newest first."""
    return await run_in_threadpool(
        service.list_endpoints,
        limit=limit,
        page_token=page_token,
        status=status_equals,
        name_contains=name_contains,
    )


@router.get("/{name}", response_model=EndpointOut, openapi_extra=READ)
async def get_endpoint(name: str, service: Service) -> EndpointOut:
    """An endpoint: status, variants, where to invoke it."""
    return await run_in_threadpool(service.get, name)


@router.put("/{name}", response_model=EndpointOut, openapi_extra=WRITE)
async def update_endpoint(name: str, body: EndpointUpdate, service: Service) -> EndpointOut:
    """Serve a new config, blue/green: no request in flight fails."""
    return await run_in_threadpool(service.update, name, body)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=WRITE)
async def delete_endpoint(name: str, service: Service) -> Response:
    """Stop the endpoint's workers and delete it."""
    await run_in_threadpool(service.delete, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@runtime.post(
    "/endpoints/{name}/invocations",
    status_code=status.HTTP_307_TEMPORARY_REDIRECT,
    openapi_extra=rule(Permission.ENDPOINTS_INVOKE),
)
async def invoke_endpoint(name: str, request: Request, service: Service) -> RedirectResponse:
    """SageMaker's runtime path on the control plane: redirects (307, the body is sent
    again) to the endpoint's data plane, which clients may also call directly."""
    endpoint = await run_in_threadpool(service.get, name)
    target = endpoint.invocation_url
    if urlsplit(target).hostname in ("0.0.0.0", "::"):  # listening everywhere: the caller's host
        host = request.url.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        target = f"http://{host}:{endpoint.data_plane_port}/endpoints/{name}/invocations"
    return RedirectResponse(target, status_code=status.HTTP_307_TEMPORARY_REDIRECT)
