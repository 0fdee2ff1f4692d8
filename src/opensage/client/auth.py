"""SDK resources for users, API keys and the audit log."""

from __future__ import annotations

from typing import Any

from opensage.auth.schemas import (
    ApiKeyCreated,
    ApiKeyOut,
    AuditEventOut,
    UserOut,
    WhoAmI,
)
from opensage.client.http import HTTPSession, iter_pages


class Users:
    """``client.users``: manage users (admins only)."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(self, name: str, role: str) -> UserOut:
        """Create a user with a role: admin, scientist, labeler or viewer."""
        body = self._session.json("POST", "/api/v1/users", json={"name": name, "role": role})
        return UserOut.model_validate(body)

    def get(self, name: str) -> UserOut:
        """One user."""
        return UserOut.model_validate(self._session.json("GET", f"/api/v1/users/{name}"))

    def list(self) -> list[UserOut]:
        """Every user, by name."""
        return list(iter_pages(self._session, "/api/v1/users", UserOut))

    def update(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserOut:
        """Change a user's role, or disable / enable them."""
        changes = {k: v for k, v in {"role": role, "disabled": disabled}.items() if v is not None}
        body = self._session.json("PATCH", f"/api/v1/users/{name}", json=changes)
        return UserOut.model_validate(body)


class ApiKeys:
    """``client.keys``: your API keys (or another user's, as an admin)."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self, *, name: str = "", expires_in_days: float | None = None, user: str | None = None
    ) -> ApiKeyCreated:
        """A new key; ``.key`` holds the secret, shown only now."""
        path = f"/api/v1/users/{user}/keys" if user else "/api/v1/keys"
        payload: dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            payload["expires_in_days"] = expires_in_days
        return ApiKeyCreated.model_validate(self._session.json("POST", path, json=payload))

    def list(self, *, user: str | None = None) -> list[ApiKeyOut]:
        """Keys (metadata only), newest first."""
        path = f"/api/v1/users/{user}/keys" if user else "/api/v1/keys"
        return [ApiKeyOut.model_validate(k) for k in self._session.json("GET", path)]

    def revoke(self, key_id: str) -> ApiKeyOut:
        """Revoke a key; it stops working at once."""
        return ApiKeyOut.model_validate(self._session.json("DELETE", f"/api/v1/keys/{key_id}"))


class AuditLog:
    """``client.audit``: who did what, and when (admins only)."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        resource_type: str | None = None,
        limit: int = 100,
    ) -> list[AuditEventOut]:
        """The newest ``limit`` entries matching the filters."""
        params = {"actor": actor, "action": action, "resource_type": resource_type}
        found: list[AuditEventOut] = []
        query = {k: v for k, v in params.items() if v}
        for event in iter_pages(self._session, "/api/v1/audit-events", AuditEventOut, query):
            found.append(event)
            if len(found) >= limit:
                break
        return found


def whoami(session: HTTPSession) -> WhoAmI:
    """The caller as the server sees them."""
    return WhoAmI.model_validate(session.json("GET", "/api/v1/whoami"))
