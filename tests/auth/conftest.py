"""A platform with auth on, its admin key, and helpers to make users with keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app

ADMIN_KEY = "osk_test-admin-key-0123456789abcdefghijklmnop"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Platform]:
    """A platform with auth on and a known admin key."""
    platform = open_platform(
        Settings(data_dir=tmp_path / "secured", auth="on", admin_api_key=ADMIN_KEY)
    )
    yield platform
    platform.close()


@pytest.fixture
def api(secured: Platform) -> Iterator[TestClient]:
    """An HTTP client to the secured app that sends no key unless told to."""
    with TestClient(create_app(platform=secured), base_url="http://testserver") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def key_for(api: TestClient) -> Callable[[str, str], str]:
    """Create a user with a role (as the admin) and return a fresh key of theirs."""

    def make(name: str, role: str) -> str:
        created = api.post(
            "/api/v1/users", json={"name": name, "role": role}, headers=bearer(ADMIN_KEY)
        )
        assert created.status_code == 201, created.text
        key = api.post(f"/api/v1/users/{name}/keys", json={"name": "t"}, headers=bearer(ADMIN_KEY))
        assert key.status_code == 201, key.text
        return str(key.json()["key"])

    return make
