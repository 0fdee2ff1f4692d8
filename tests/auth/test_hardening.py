"""Request size limits, security headers, no CORS, no secrets in errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.auth.conftest import ADMIN_KEY, bearer


def test_oversized_json_bodies_are_refused(api: TestClient) -> None:
    big = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'", "role": "viewer"}'
    response = api.post(
        "/api/v1/users",
        content=big,
        headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_chunked_oversized_bodies_are_refused(api: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = api.post(
        "/api/v1/users",
        content=chunks(),
        headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_html_pages_carry_security_headers(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert api.get("/health").headers["x-content-type-options"] == "nosniff"


def test_cors_is_off(api: TestClient) -> None:
    response = api.options(
        "/api/v1/datasets",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    response = api.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_errors_never_echo_the_key(api: TestClient) -> None:
    wrong = "osk_" + "s3cr3t" * 8
    response = api.get("/api/v1/datasets", headers=bearer(wrong))
    assert response.status_code == 401 and "s3cr3t" not in response.text


def test_with_auth_on_the_server_does_not_read_its_own_files(api: TestClient) -> None:
    response = api.post(
        "/api/v1/datasets",
        json={"name": "shadow", "source": "/etc/passwd", "format": "csv"},
        headers=bearer(ADMIN_KEY),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "source"
    assert "does not read paths on its own machine" in response.json()["error"]["message"]
