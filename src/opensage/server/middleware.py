"""ASGI middleware: audit of mutating calls, request-size limit, security headers."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opensage.errors import PayloadTooLarge
from opensage.server.errors import error_response

logger = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CAPTURE_LIMIT = 64 * 1024
_NAME_FIELDS = ("name", "dataset", "key_id", "upload_id")


class AuditMiddleware:
    """Writes one audit entry for every mutating API call that was allowed.

    The entry names the caller, the route (``create_dataset``, ``revoke_api_key`` ...),
    the resource type (the route's tag) and the resource's name (from the path, or from
    the answer of a create call). Refused calls (401/403) are logged too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < _CAPTURE_LIMIT:
                body.extend(message.get("body", b"")[: _CAPTURE_LIMIT - len(body)])
            await send(message)

        await self.app(scope, receive, capture)
        route = scope.get("route")
        principal = scope.get("state", {}).get("principal")
        if route is None or (principal is None and status not in (401, 403)):
            return
        if status >= 400 and status not in (401, 403):
            return
        try:
            await run_in_threadpool(self._record, scope, route, principal, status, bytes(body))
        except Exception:  # the answer is already sent; never fail a call over its audit entry
            logger.exception("could not write the audit entry for %s", getattr(route, "name", ""))

    @staticmethod
    def _record(scope: Scope, route: Any, principal: Any, status: int, body: bytes) -> None:
        platform = scope["app"].state.platform
        params = scope.get("path_params", {})
        name = next((str(params[k]) for k in _NAME_FIELDS if k in params), "")
        if not name and status < 300 and body:
            try:
                answer = json.loads(body)
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                name = next((str(answer[k]) for k in _NAME_FIELDS if k in answer), "")
        tags = getattr(route, "tags", None) or ["api"]
        platform.auth.record(
            actor=principal.name if principal is not None else "anonymous",
            action=route.name,
            resource_type=str(tags[0]),
            resource_name=name,
            status=status,
            details={"method": scope["method"], "path": scope["path"]},
        )


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` (uploads have their own, larger limit)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        # Read the (small) body up front, so an oversized one is refused before any
        # handler sees it; then replay it to the app.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"request body is larger than {self.max_bytes} bytes", field="body")
        await error_response(error)(scope, receive, send)


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)


class SecurityHeadersMiddleware:
    """Adds anti-sniffing, anti-framing and referrer headers; HTML pages get all of them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                content_type = dict(headers).get(b"content-type", b"")
                wanted = (
                    SECURITY_HEADERS
                    if content_type.startswith(b"text/html")
                    else (SECURITY_HEADERS[:1])
                )
                headers.extend((k, v) for k, v in wanted if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
