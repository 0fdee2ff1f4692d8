"""Every route x every role: allowed or denied exactly as the policy says.

The routes come from the app's own OpenAPI document (every route is in it, with the
permission it declares as ``x-permission``), so a new route without a rule fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from opensage.auth.policy import PERMISSION_KEY, Permission, Role, allows
from opensage.server.app import create_app
from tests.auth.conftest import ADMIN_KEY, bearer

_APP = create_app()
_SPEC = _APP.openapi()
ROUTES = [
    (method.upper(), path, operation.get(PERMISSION_KEY))
    for path, operations in _SPEC["paths"].items()
    for method, operation in operations.items()
]
PLACEHOLDERS = {"name": "no-such-thing", "version": "1", "key_id": "0" * 32}


def _path(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: PLACEHOLDERS.get(m.group(1), "x"), path)


def test_the_route_table_is_complete() -> None:
    assert len(ROUTES) >= 20
    hidden = [
        r.path for r in _APP.router.routes if isinstance(r, APIRoute) and not r.include_in_schema
    ]
    assert hidden == []


@pytest.mark.parametrize(("method", "path", "rule"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_declares_a_permission(method: str, path: str, rule: str | None) -> None:
    assert rule is not None, f"{method} {path} has no access rule"
    Permission(rule)


@pytest.mark.parametrize("role", [*Role, None], ids=[*(r.value for r in Role), "anonymous"])
def test_each_role_reaches_exactly_what_the_policy_allows(
    api: TestClient, key_for: Callable[[str, str], str], role: Role | None
) -> None:
    headers = {}
    if role is Role.ADMIN:
        headers = bearer(ADMIN_KEY)
    elif role is not None:
        headers = bearer(key_for(f"user-{role.value}", role.value))
    mismatches = []
    for method, path, rule in ROUTES:
        permission = Permission(rule)
        if role is None:
            expected_allowed = permission is Permission.PUBLIC
            denied_status = 401
        else:
            expected_allowed = allows(role, permission)
            denied_status = 403
        response = api.request(method, _path(path), headers=headers)
        if expected_allowed:
            ok = response.status_code not in (401, 403) and response.status_code < 500
        else:
            ok = response.status_code == denied_status
            body = response.json()["error"]
            ok = ok and body["code"] == ("unauthorized" if denied_status == 401 else "forbidden")
        if not ok:
            mismatches.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert mismatches == []
