"""The console's pages as HTML, in-process: sign-in, redirects, the session cookie on the
API, role-aware actions and the not-found page (the browser tests drive the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opensage.config import Settings
from opensage.platform import open_platform
from opensage.server.app import create_app
from opensage.server.deps import SESSION_COOKIE

ADMIN_KEY = "osk_pages-admin-key-0123456789abcdefghijklmn"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    """An app with auth on (as when the server listens beyond loopback)."""
    platform = open_platform(
        Settings(
            data_dir=tmp_path / "data", auth="on", admin_api_key=ADMIN_KEY,
            warm_workers=False,
        )
    )  # fmt: skip
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        yield http
    platform.close()


def test_pages_send_a_stranger_to_sign_in_and_back(guarded: TestClient) -> None:
    answer = guarded.get("/datasets", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/datasets"
    wrong = guarded.post("/login", data={"api_key": "osk_nope", "next": "/datasets"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert SESSION_COOKIE not in guarded.cookies
    right = guarded.post(
        "/login", data={"api_key": ADMIN_KEY, "next": "/datasets"}, follow_redirects=False
    )
    assert right.status_code == 303 and right.headers["location"] == "/datasets"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert guarded.get("/datasets").status_code == 200


def test_the_session_cookie_signs_api_calls_in(guarded: TestClient) -> None:
    assert guarded.get("/api/v1/datasets").status_code == 401
    guarded.post("/login", data={"api_key": ADMIN_KEY})
    assert guarded.get("/api/v1/datasets").status_code == 200
    guarded.post("/logout")
    assert guarded.get("/api/v1/datasets").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:x"])
def test_sign_in_never_redirects_off_the_server(guarded: TestClient, target: str) -> None:
    answer = guarded.post(
        "/login", data={"api_key": ADMIN_KEY, "next": target}, follow_redirects=False
    )
    assert answer.headers["location"] == "/"


def test_unknown_things_get_the_not_found_page(guarded: TestClient) -> None:
    guarded.post("/login", data={"api_key": ADMIN_KEY})
    for path, words in (
        ("/datasets/nope", "dataset 'nope' does not exist"),
        ("/training-jobs/nope", "training job 'nope' does not exist"),
    ):
        answer = guarded.get(path)
        assert answer.status_code == 404 and words in answer.text.replace("&#39;", "'")
    assert guarded.get("/training-jobs?status=Sleeping").status_code == 422


def test_with_auth_off_nobody_signs_in(http: TestClient) -> None:
    home = http.get("/")
    assert home.status_code == 200 and "Sign out" not in home.text
    assert "<h1>Home</h1>" in home.text
    assert http.get("/console/static/vendor/uPlot.iife.min.js").status_code == 200
