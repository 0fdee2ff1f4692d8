"""Domain errors shared by the server and the SDK: one class per error code.

Services raise these; the server turns them into ``{"error": {"code", "message", "field"}}``
with the class's HTTP status, and the SDK turns that body back into the same class.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OpenSageError(Exception):
    """Base of every error the platform reports to a user."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """The error's JSON body, as every API failure returns it."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}

    def __str__(self) -> str:
        return f"{self.message} (field: {self.field})" if self.field else self.message


class InvalidInput(OpenSageError):
    """The request is malformed or names something that does not fit (HTTP 400/422)."""

    code = "invalid_input"
    status = 422


class NotFound(OpenSageError):
    """The named resource does not exist."""

    code = "not_found"
    status = 404


class Conflict(OpenSageError):
    """The request clashes with the current state (duplicate name, wrong status)."""

    code = "conflict"
    status = 409


class PayloadTooLarge(OpenSageError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"
    status = 413


class Unauthorized(OpenSageError):
    """No valid credentials were presented."""

    code = "unauthorized"
    status = 401


class Forbidden(OpenSageError):
    """The caller is known but may not do this."""

    code = "forbidden"
    status = 403


class MethodNotAllowed(OpenSageError):
    """The route exists but not with this HTTP method."""

    code = "method_not_allowed"
    status = 405


class ModelError(OpenSageError):
    """The model raised while predicting (SageMaker answers 424 too)."""

    code = "model_error"
    status = 424


class InternalError(OpenSageError):
    """An unexpected failure on the server; the message never carries secrets."""


class ServerUnavailable(OpenSageError):
    """A server could not be reached: the SDK's server, or an endpoint's data plane."""

    code = "server_unavailable"
    status = 503


_BY_CODE: dict[str, type[OpenSageError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unauthorized,
        Forbidden,
        MethodNotAllowed,
        ModelError,
        InternalError,
        ServerUnavailable,
    )
}


def error_from_body(status: int, body: Any) -> OpenSageError:
    """Rebuild the typed error from an API error body (used by the SDK)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        cls = _BY_CODE.get(str(err.get("code")), OpenSageError)
        return cls(str(err.get("message", "")), field=err.get("field"))
    return OpenSageError(f"HTTP {status}: {str(body)[:500]}")


__all__ = [
    "Conflict",
    "Forbidden",
    "InternalError",
    "InvalidInput",
    "MethodNotAllowed",
    "ModelError",
    "NotFound",
    "OpenSageError",
    "PayloadTooLarge",
    "ServerUnavailable",
    "Unauthorized",
    "error_from_body",
]
