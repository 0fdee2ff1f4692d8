"""API keys: 401 without a valid one, revocation, expiry, hashing at rest, bootstrap."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

import opensage
from opensage.auth.models import ApiKey
from opensage.cli import app as cli_app
from opensage.config import Settings
from opensage.db import utcnow
from opensage.platform import Platform, open_platform
from tests.auth.conftest import ADMIN_KEY, bearer
from tests.conftest import ServerProcess


def _error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer osk_not-a-real-key-at-all-0123456789abcdef"},
        {"Authorization": f"Bearer {ADMIN_KEY}x"},
    ],
)
def test_requests_without_a_valid_key_get_401(api: TestClient, headers: dict[str, str]) -> None:
    response = api.get("/api/v1/datasets", headers=headers)
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert ADMIN_KEY not in response.text


def test_health_needs_no_key(api: TestClient) -> None:
    assert api.get("/health").status_code == 200


def test_a_role_without_the_permission_gets_403(
    api: TestClient, key_for: Callable[[str, str], str]
) -> None:
    viewer = key_for("vera", "viewer")
    assert api.get("/api/v1/datasets", headers=bearer(viewer)).status_code == 200
    response = api.post(
        "/api/v1/datasets", json={"name": "x", "source": "upload:x"}, headers=bearer(viewer)
    )
    _error(response, 403, "forbidden")
    assert "vera" in response.json()["error"]["message"]
    assert "datasets.write" in response.json()["error"]["message"]


def test_revoked_keys_stop_working(api: TestClient, key_for: Callable[[str, str], str]) -> None:
    key = key_for("sam", "scientist")
    assert api.get("/api/v1/whoami", headers=bearer(key)).json()["name"] == "sam"
    mine = api.get("/api/v1/keys", headers=bearer(key)).json()
    assert len(mine) == 1 and mine[0]["revoked_at"] is None
    revoked = api.delete(f"/api/v1/keys/{mine[0]['key_id']}", headers=bearer(key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    _error(api.get("/api/v1/whoami", headers=bearer(key)), 401, "unauthorized")


def test_users_cannot_revoke_each_others_keys_but_admins_can(
    api: TestClient, key_for: Callable[[str, str], str]
) -> None:
    alice, bob = key_for("alice", "scientist"), key_for("bob", "scientist")
    bobs_key = api.get("/api/v1/keys", headers=bearer(bob)).json()[0]["key_id"]
    _error(api.delete(f"/api/v1/keys/{bobs_key}", headers=bearer(alice)), 404, "not_found")
    assert api.get("/api/v1/whoami", headers=bearer(bob)).status_code == 200
    assert api.delete(f"/api/v1/keys/{bobs_key}", headers=bearer(ADMIN_KEY)).status_code == 200
    _error(api.get("/api/v1/whoami", headers=bearer(bob)), 401, "unauthorized")


def test_expired_keys_stop_working(api: TestClient, secured: Platform) -> None:
    created = api.post("/api/v1/keys", json={"expires_in_days": 1}, headers=bearer(ADMIN_KEY))
    key = created.json()["key"]
    assert api.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    with secured.db.transaction() as session:
        row = session.get(ApiKey, created.json()["key_id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    _error(api.get("/api/v1/whoami", headers=bearer(key)), 401, "unauthorized")


def test_disabled_users_are_refused(api: TestClient, key_for: Callable[[str, str], str]) -> None:
    key = key_for("dora", "scientist")
    assert (
        api.patch(
            "/api/v1/users/dora", json={"disabled": True}, headers=bearer(ADMIN_KEY)
        ).status_code
        == 200
    )
    _error(api.get("/api/v1/whoami", headers=bearer(key)), 401, "unauthorized")
    # An admin cannot lock themselves out.
    _error(
        api.patch("/api/v1/users/admin", json={"disabled": True}, headers=bearer(ADMIN_KEY)),
        409,
        "conflict",
    )


def test_keys_are_not_recoverable_from_the_database(
    api: TestClient, secured: Platform, key_for: Callable[[str, str], str]
) -> None:
    key = key_for("kim", "viewer")
    api.get("/api/v1/whoami", headers=bearer(key))  # records last use
    with secured.db.reader() as session:
        rows = session.scalars(select(ApiKey)).all()
    secret_part = key.removeprefix("osk_")
    for row in rows:
        for value in (row.digest, row.prefix, row.name):
            assert secret_part not in value
        assert row.digest != hashlib.sha256(key.encode()).hexdigest()
    assert any(r.last_used_at is not None for r in rows)
    database = secured.settings.data_dir / "opensage.db"
    secured.db.dispose()
    raw = b"".join(p.read_bytes() for p in database.parent.glob("opensage.db*"))
    assert key.encode() not in raw and secret_part[:20].encode() not in raw
    with sqlite3.connect(database) as connection:
        dumped = "\n".join(connection.iterdump())
    assert secret_part[:20] not in dumped


def test_the_secret_file_is_private(secured: Platform) -> None:
    mode = stat.S_IMODE((secured.settings.data_dir / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_new_key_is_shown_once_and_listed_without_secret(api: TestClient) -> None:
    created = api.post("/api/v1/keys", json={"name": "ci"}, headers=bearer(ADMIN_KEY)).json()
    assert created["key"].startswith("osk_") and len(created["key"]) > 40
    listed = api.get("/api/v1/keys", headers=bearer(ADMIN_KEY)).json()
    assert {k["key_id"] for k in listed} >= {created["key_id"]}
    assert all("key" not in k for k in listed)
    assert created["key"] not in api.get("/api/v1/keys", headers=bearer(ADMIN_KEY)).text


def test_bootstrap_uses_the_configured_key_once(tmp_path: Path) -> None:
    first = open_platform(Settings(data_dir=tmp_path, auth="on", admin_api_key=ADMIN_KEY))
    assert first.bootstrap_key is None  # it came from the environment: nothing to show
    assert first.auth.authenticate(f"Bearer {ADMIN_KEY}").name == "admin"
    first.close()
    again = open_platform(Settings(data_dir=tmp_path, auth="on"))
    assert again.bootstrap_key is None
    again.close()


def test_bootstrap_refuses_a_short_configured_key(tmp_path: Path) -> None:
    with pytest.raises(opensage.InvalidInput, match="at least 32"):
        open_platform(Settings(data_dir=tmp_path, auth="on", admin_api_key="short"))


def test_first_start_with_auth_prints_the_admin_key_once(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path, extra_env={"OPENSAGE_AUTH": "on"})
    command = [sys.executable, "-m", "opensage", "up", "--port", str(server.port),
               "--data-dir", str(tmp_path), "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "OPENSAGE_AUTH": "on"}
    for attempt in ("first", "second"):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        try:
            _wait_healthy(server.port)
            process.terminate()
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        keys = [line.strip() for line in output.splitlines() if line.strip().startswith("osk_")]
        if attempt == "first":
            assert "shown only this once" in output
            assert len(keys) == 1
            key = keys[0]
            platform = open_platform(Settings(data_dir=tmp_path, auth="on"))
            assert platform.auth.authenticate(f"Bearer {key}").name == "admin"
            platform.close()
        else:
            assert keys == [] and "shown only" not in output


def _wait_healthy(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_login_checks_and_saves_the_key_privately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENSAGE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("OPENSAGE_API_KEY", raising=False)
    server = ServerProcess(
        data_dir=tmp_path / "data",
        extra_env={"OPENSAGE_AUTH": "on", "OPENSAGE_ADMIN_API_KEY": ADMIN_KEY},
    ).start()
    runner = CliRunner()
    try:
        wrong = runner.invoke(
            cli_app,
            ["--url", server.url, "login"],
            input="osk_wrong-key-wrong-key-wrong-key-wrong\n",
        )
        assert wrong.exit_code == 1 and "not valid" in wrong.stderr
        assert runner.invoke(cli_app, ["--url", server.url, "dataset", "list"]).exit_code == 1

        result = runner.invoke(cli_app, ["--url", server.url, "login"], input=ADMIN_KEY + "\n")
        assert result.exit_code == 0, result.stderr
        assert ADMIN_KEY not in result.stdout  # the prompt hides it
        saved = tmp_path / "config" / "credentials.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        result = runner.invoke(cli_app, ["--url", server.url, "whoami"])
        assert result.exit_code == 0 and "admin (admin); auth on" in result.stdout
        with opensage.Client(server.url) as client:  # the SDK reads the same file
            assert client.whoami().name == "admin"

        assert runner.invoke(cli_app, ["--url", server.url, "logout"]).exit_code == 0
        assert runner.invoke(cli_app, ["--url", server.url, "whoami"]).exit_code == 1
        monkeypatch.setenv("OPENSAGE_API_KEY", ADMIN_KEY)
        assert runner.invoke(cli_app, ["--url", server.url, "whoami"]).exit_code == 0
    finally:
        server.stop()


def test_loopback_without_auth_needs_no_key(client: opensage.Client) -> None:
    me = client.whoami()
    assert (me.name, me.role.value, me.auth_enabled) == ("local", "admin", False)
