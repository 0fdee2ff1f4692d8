"""Bad input gets a clear 4xx in the one error shape, and leaves nothing half-created."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opensage.platform import Platform


def _upload(http: TestClient, content: bytes, filename: str = "data.csv") -> str:
    response = http.post("/api/v1/uploads", params={"filename": filename}, content=content)
    assert response.status_code == 201, response.text
    return str(response.json()["source"])


def _artifacts(platform: Platform) -> list[str]:
    return platform.store.list("datasets") if platform.store.exists("datasets") else []


def _assert_error(response: object, status: int, code: str, field: str | None) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"].get("field") == field
    assert body["error"]["message"]
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("content", "filename", "field", "says"),
    [
        (b"a,b\n1,2\n3,4,5\n", "data.csv", "source", "Expected 2 columns, got 3"),
        (b"a,b\n", "data.csv", "source", "no rows"),
        (b'{"a": 1}\nnot json\n', "data.jsonl", "source", "JSON parse error"),
        (b"PAR1garbage", "data.parquet", "source", "cannot read the parquet file"),
        (b"a,a\n1,2\n", "data.csv", "source", "more than once"),
        (b"a,b\n1,2\n", "data.xlsx", "format", "cannot tell the format"),
    ],
)
def test_unreadable_sources_are_rejected(
    http: TestClient, platform: Platform, content: bytes, filename: str, field: str, says: str
) -> None:
    source = _upload(http, content, filename)
    response = http.post("/api/v1/datasets", json={"name": "bad", "source": source})
    message = _assert_error(response, 422, "invalid_input", field)
    assert says in message
    assert http.get("/api/v1/datasets/bad").status_code == 404
    assert _artifacts(platform) == []


def test_empty_upload_is_rejected(http: TestClient) -> None:
    response = http.post("/api/v1/uploads", params={"filename": "e.csv"}, content=b"")
    assert "empty" in _assert_error(response, 422, "invalid_input", "body")


def test_empty_file_on_the_server_is_rejected(http: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    response = http.post("/api/v1/datasets", json={"name": "e", "source": str(path)})
    assert "empty" in _assert_error(response, 422, "invalid_input", "source")


def test_unknown_label_names_the_columns(http: TestClient, platform: Platform) -> None:
    source = _upload(http, b"hours,score\n1,500\n")
    response = http.post(
        "/api/v1/datasets", json={"name": "lbl", "source": source, "label": "grade"}
    )
    message = _assert_error(response, 422, "invalid_input", "label")
    assert "'grade'" in message and "hours" in message and "score" in message
    assert _artifacts(platform) == []
    # The upload was not consumed: fixing the request succeeds with the same source.
    fixed = http.post("/api/v1/datasets", json={"name": "lbl", "source": source, "label": "score"})
    assert fixed.status_code == 201


def test_duplicate_name_is_a_conflict(http: TestClient, platform: Platform) -> None:
    first = http.post("/api/v1/datasets", json={"name": "dup", "source": _upload(http, b"x\n1\n")})
    assert first.status_code == 201
    before = _artifacts(platform)
    response = http.post(
        "/api/v1/datasets", json={"name": "dup", "source": _upload(http, b"x\n2\n")}
    )
    assert "already exists" in _assert_error(response, 409, "conflict", "name")
    assert _artifacts(platform) == before


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", "-lead", "trail-", "a" * 64, "", "a.b"])
def test_unsafe_names_are_rejected(http: TestClient, platform: Platform, name: str) -> None:
    source = _upload(http, b"x\n1\n")
    response = http.post("/api/v1/datasets", json={"name": name, "source": source})
    _assert_error(response, 422, "invalid_input", "name")
    assert _artifacts(platform) == []


def test_path_traversal_in_url_paths_finds_nothing(http: TestClient) -> None:
    assert http.get("/api/v1/datasets/..%2F..%2Fetc").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "s", "splits": {"train": 0.8, "test": 0.3}}, "splits"),
        ({"name": "s", "splits": {"train": 1.5}}, "splits"),
        ({"name": "s", "splits": {"bad name": 1.0}}, "splits"),
        ({"name": "s", "stratify": True, "splits": {"train": 1.0}}, "stratify"),
        ({"name": "s", "format": "xls"}, "format"),
        ({"name": "s", "column_types": {"x": "complex"}}, "column_types.x"),
        ({"name": "s", "column_types": {"nope": "float"}}, "column_types"),
        ({"name": "s", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_options_name_the_field(
    http: TestClient, platform: Platform, body: dict[str, object], field: str
) -> None:
    body = {**body, "source": _upload(http, b"x\n1\n2\n")}
    response = http.post("/api/v1/datasets", json=body)
    _assert_error(response, 422, "invalid_input", field)
    assert _artifacts(platform) == []


@pytest.mark.parametrize(
    ("source", "field", "status"),
    [
        ("upload:0123456789abcdef0123456789abcdef", "source", 404),
        ("upload:nope", "source", 422),
        ("relative/path.csv", "source", 422),
        ("/no/such/file.csv", "source", 422),
        ("ftp://host/file.csv", "source", 422),
    ],
)
def test_bad_sources_are_named(http: TestClient, source: str, field: str, status: int) -> None:
    response = http.post("/api/v1/datasets", json={"name": "s", "source": source})
    _assert_error(response, status, "not_found" if status == 404 else "invalid_input", field)


def test_unknown_routes_versions_and_splits_use_the_error_shape(http: TestClient) -> None:
    _assert_error(http.get("/api/v1/nothing-here"), 404, "not_found", None)
    _assert_error(http.get("/api/v1/datasets/missing"), 404, "not_found", "name")
    _assert_error(http.put("/api/v1/datasets"), 405, "method_not_allowed", None)
    http.post("/api/v1/datasets", json={"name": "d", "source": _upload(http, b"x\n1\n")})
    _assert_error(http.get("/api/v1/datasets/d/versions/7"), 404, "not_found", "version")
    _assert_error(
        http.get("/api/v1/datasets/d/data", params={"split": "train"}),
        422,
        "invalid_input",
        "split",
    )
    _assert_error(http.get("/api/v1/datasets", params={"limit": 0}), 422, "invalid_input", "limit")
    _assert_error(
        http.get("/api/v1/datasets", params={"page_token": "garbage"}),
        422,
        "invalid_input",
        "page_token",
    )
    malformed = http.post(
        "/api/v1/datasets", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_input"


def test_oversized_upload_is_refused_and_not_kept(tmp_path: Path) -> None:
    from opensage.config import Settings
    from opensage.platform import open_platform
    from opensage.server.app import create_app

    platform = open_platform(Settings(data_dir=tmp_path / "d", max_upload_bytes=1000))
    with TestClient(create_app(platform=platform)) as http:
        response = http.post("/api/v1/uploads", params={"filename": "big.csv"}, content=b"x" * 5000)
        assert "larger than" in _assert_error(response, 413, "payload_too_large", "body")
    assert list(platform.uploads.directory.iterdir()) == []
    platform.close()
