"""The SDK raises typed errors carrying the server's message and field."""

from __future__ import annotations

from pathlib import Path

import pytest

import opensage
from tests.conftest import ServerProcess, free_port


def test_errors_are_typed(client: opensage.Client, tmp_path: Path) -> None:
    with pytest.raises(opensage.NotFound) as missing:
        client.datasets.get("missing")
    assert missing.value.field == "name"
    assert "does not exist" in missing.value.message

    path = tmp_path / "x.csv"
    path.write_text("x\n1\n")
    client.datasets.create(path, name="once")
    with pytest.raises(opensage.Conflict):
        client.datasets.create(path, name="once")
    with pytest.raises(opensage.InvalidInput) as bad:
        client.datasets.create(path, name="bad", label="nope")
    assert bad.value.field == "label"
    with pytest.raises(opensage.InvalidInput, match="no such file"):
        client.datasets.create(tmp_path / "absent.csv", name="absent")


def test_unreachable_server_raises_server_unavailable() -> None:
    client = opensage.Client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(opensage.ServerUnavailable, match="opensage up"):
        client.health()


def test_url_comes_from_environment(
    running_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENSAGE_URL", running_server.url)
    with opensage.Client() as client:
        assert client.url == running_server.url
        assert client.health()["status"] == "ok"


def test_upload_reports_progress(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("x\n" + "\n".join(str(i) for i in range(400_000)) + "\n")
    seen: list[tuple[int, int]] = []
    dataset = client.datasets.create(
        path, name="progress", progress=lambda s, t: seen.append((s, t))
    )
    size = path.stat().st_size
    assert dataset.num_rows == 400_000
    assert len(seen) >= 2
    assert seen[-1] == (size, size)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_openapi_document_describes_the_api(client: opensage.Client) -> None:
    spec = client.session.json("GET", "/openapi.json")
    assert spec["info"]["title"] == "OpenSage"
    paths = spec["paths"]
    assert {"/api/v1/datasets", "/api/v1/datasets/{name}", "/api/v1/uploads", "/health"} <= set(
        paths
    )
    create = spec["components"]["schemas"]["DatasetCreate"]["properties"]["name"]
    assert create["pattern"].startswith("^[a-zA-Z0-9]")
