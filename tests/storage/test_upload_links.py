"""Uploads staged by linking a file already on the server's machine, instead of streaming
a copy: ``POST /api/v1/uploads/link``, and the SDK's use of it for a loopback server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.errors import InvalidInput
from opensage.platform import Platform, open_platform
from opensage.storage.uploads import UploadArea, UploadLink


def _csv(path: Path, rows: int = 500) -> Path:
    frame = pd.DataFrame({"hours": [i % 40 for i in range(rows)], "score": range(rows)})
    frame.to_csv(path, index=False)
    return path


def _described(path: Path) -> dict[str, Any]:
    seen = path.stat()
    return {"path": str(path), "size": seen.st_size, "mtime_ns": seen.st_mtime_ns}


def _staged(platform: Platform, source: str) -> Path:
    return platform.uploads.resolve(source)[0]


def test_a_linked_upload_is_the_file_itself_and_outlives_its_name(
    http: TestClient, platform: Platform, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "students.csv")
    inode = path.stat().st_ino

    response = http.post("/api/v1/uploads/link", json=_described(path))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "students.csv" and body["size"] == path.stat().st_size
    assert _staged(platform, body["source"]).stat().st_ino == inode  # no copy
    path.unlink()  # a temporary file, say: the staged link keeps its content
    created = http.post("/api/v1/datasets", json={"name": "linked", "source": body["source"]})
    assert created.status_code == 201, created.text
    assert created.json()["num_rows"] == 500
    assert created.json()["source"] == "upload:students.csv"
    assert list(platform.uploads.directory.iterdir()) == []  # consumed


def test_ingesting_a_linked_upload_leaves_the_original_file(
    http: TestClient, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "keep.csv")
    content = path.read_bytes()
    source = http.post("/api/v1/uploads/link", json=_described(path)).json()["source"]

    created = http.post("/api/v1/datasets", json={"name": "kept", "source": source})

    assert created.status_code == 201, created.text
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path": "relative/students.csv"}, "is not an absolute path"),
        ({"path": "/nowhere/students.csv"}, "no such file"),
        ({"path": "{folder}"}, "no such file"),
        ({"size": 1}, "is not the file the client described"),
        ({"mtime_ns": 1}, "is not the file the client described"),
    ],
    ids=["relative", "missing", "folder", "size", "mtime"],
)
def test_refused_links_stage_nothing(
    http: TestClient, platform: Platform, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _csv(tmp_path / "students.csv")
    body = {**_described(path), **change}
    if body["path"] == "{folder}":
        body["path"] = str(tmp_path)

    response = http.post("/api/v1/uploads/link", json=body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "path" and message in error["message"]
    assert list(platform.uploads.directory.iterdir()) == []


def test_a_server_with_auth_links_nothing(tmp_path: Path) -> None:
    path = _csv(tmp_path / "students.csv")
    secured = open_platform(Settings(data_dir=tmp_path / "secured", auth="on"))
    try:
        assert secured.uploads.allow_links is False
        with pytest.raises(InvalidInput, match="auth is on"):
            secured.uploads.link(UploadLink(**_described(path)))
        assert list(secured.uploads.directory.iterdir()) == []
    finally:
        secured.close()


def test_a_linked_upload_ages_from_when_it_was_staged(tmp_path: Path) -> None:
    # The link shares the original's modification time: a file last changed days ago is
    # not swept as stale the moment it is staged, but a day after.
    path = _csv(tmp_path / "old.csv")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(path, (two_days_ago, two_days_ago))
    area = UploadArea(tmp_path / "uploads", max_bytes=10**9)
    staged = area.link(UploadLink(**_described(path)))

    assert area.sweep() == 0
    assert area.resolve(staged.source)[0].exists()
    described = area.directory / f"{staged.upload_id}.json"
    os.utime(described, (two_days_ago, two_days_ago))
    assert area.sweep() == 2
    assert path.exists()  # only the staged name went


# -- the SDK ---------------------------------------------------------------------------


@pytest.fixture
def local_client(http: TestClient) -> opensage.Client:
    """The SDK as it talks to a server on this machine (a loopback URL), in-process."""
    return opensage.Client("http://127.0.0.1:8080", http=http)


def test_the_sdk_links_files_for_a_server_on_this_machine(
    local_client: opensage.Client, platform: Platform, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "students.csv")
    seen: list[tuple[int, int]] = []

    source = local_client.datasets.upload(path, progress=lambda s, t: seen.append((s, t)))

    assert _staged(platform, source).stat().st_ino == path.stat().st_ino
    size = path.stat().st_size
    assert seen == [(size, size)]
    dataset = local_client.datasets.create(source, name="students")
    assert dataset.num_rows == 500


def test_the_sdk_streams_when_the_server_will_not_link(
    local_client: opensage.Client, platform: Platform, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "students.csv")
    platform.uploads.allow_links = False  # as with auth on

    source = local_client.datasets.upload(path)

    staged = _staged(platform, source)
    assert staged.stat().st_ino != path.stat().st_ino
    assert staged.read_bytes() == path.read_bytes()
    with pytest.raises(InvalidInput, match="auth is on"):
        local_client.datasets.upload(path, in_place=True)


def test_the_sdk_streams_to_a_remote_server_or_when_told_to(
    client: opensage.Client, local_client: opensage.Client, platform: Platform, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "students.csv")
    inode = path.stat().st_ino

    remote = client.datasets.upload(path)  # http://testserver: not this machine's
    told = local_client.datasets.upload(path, in_place=False)

    for source in (remote, told):
        assert _staged(platform, source).stat().st_ino != inode
        assert _staged(platform, source).read_bytes() == path.read_bytes()


def test_a_dataframe_source_survives_its_temporary_file(
    local_client: opensage.Client, platform: Platform
) -> None:
    # The SDK writes a DataFrame to a temporary Parquet file, links it, then removes the
    # file: the staged link still holds the rows.
    frame = pd.DataFrame({"hours": [1.5, 2.5, 3.5], "track": ["ml", "data", "ml"]})

    dataset = local_client.datasets.create(frame, name="frame")

    pd.testing.assert_frame_equal(dataset.to_pandas(), frame)
    assert dataset.latest.source == "upload:dataframe.parquet"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/api/v1/uploads/link", {"path": "{path}", "size": 1, "mtime_ns": 1}, "path"),
        ("/api/v1/datasets", {"name": "long", "source": "{path}"}, "source"),
        (
            "/api/v1/training-jobs",
            {"name": "long", "script": {"source": "{path}"}},
            "script.source",
        ),
    ],
    ids=["link", "dataset source", "script source"],
)
def test_unreadable_server_paths_are_a_clear_422(
    http: TestClient, route: str, body: dict[str, Any], field: str
) -> None:
    # A name longer than the filesystem allows makes ``Path.is_file`` raise, not answer.
    long = "/" + "n" * 300 + ".csv"
    payload = json.loads(json.dumps(body).replace("{path}", long))

    response = http.post(route, json=payload)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "File name too long" in error["message"]
    assert error["field"] == field
