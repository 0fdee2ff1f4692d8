"""The audit log records every mutating action, who did it and to what; admins read it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.auth.conftest import ADMIN_KEY, bearer


def _events(api: TestClient, **filters: str) -> list[dict[str, object]]:
    response = api.get("/api/v1/audit-events", params=filters, headers=bearer(ADMIN_KEY))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_mutating_actions_are_recorded_with_actor_and_resource(
    api: TestClient, key_for: Callable[[str, str], str]
) -> None:
    sci = key_for("sci", "scientist")
    upload = api.post(
        "/api/v1/uploads", params={"filename": "d.csv"}, content=b"x\n1\n", headers=bearer(sci)
    ).json()
    assert (
        api.post(
            "/api/v1/datasets",
            json={"name": "audited", "source": upload["source"]},
            headers=bearer(sci),
        ).status_code
        == 201
    )
    assert api.delete("/api/v1/datasets/audited", headers=bearer(sci)).status_code == 204
    key_id = api.get("/api/v1/keys", headers=bearer(sci)).json()[0]["key_id"]
    assert api.delete(f"/api/v1/keys/{key_id}", headers=bearer(ADMIN_KEY)).status_code == 200

    trail = [(e["actor"], e["action"], e["resource_name"]) for e in reversed(_events(api))]
    assert trail == [
        ("admin", "bootstrap_admin", "admin"),
        ("admin", "create_user", "sci"),
        ("admin", "create_user_api_key", "sci"),
        ("sci", "create_upload", upload["upload_id"]),
        ("sci", "create_dataset", "audited"),
        ("sci", "delete_dataset", "audited"),
        ("admin", "revoke_api_key", key_id),
    ]
    dataset_events = _events(api, resource_type="datasets")
    assert [e["action"] for e in dataset_events] == ["delete_dataset", "create_dataset"]
    assert all(e["status"] in (201, 204) for e in dataset_events)
    assert [e["action"] for e in _events(api, actor="sci", action="create_dataset")] == [
        "create_dataset"
    ]


def test_refused_attempts_are_recorded_and_reads_are_not(
    api: TestClient, key_for: Callable[[str, str], str]
) -> None:
    viewer = key_for("val", "viewer")
    api.get("/api/v1/datasets", headers=bearer(viewer))
    denied = api.delete("/api/v1/datasets/anything", headers=bearer(viewer))
    assert denied.status_code == 403
    anonymous = api.post("/api/v1/users", json={"name": "x", "role": "admin"})
    assert anonymous.status_code == 401
    events = _events(api)
    assert (events[0]["actor"], events[0]["action"], events[0]["status"]) == (
        "anonymous",
        "create_user",
        401,
    )
    assert (events[1]["actor"], events[1]["action"], events[1]["status"]) == (
        "val",
        "delete_dataset",
        403,
    )
    assert not any(e["action"] == "list_datasets" for e in events)


def test_failed_calls_are_not_recorded_as_actions(api: TestClient) -> None:
    before = len(_events(api))
    assert api.delete("/api/v1/datasets/missing", headers=bearer(ADMIN_KEY)).status_code == 404
    assert len(_events(api)) == before


def test_only_admins_read_the_audit_log(
    api: TestClient, key_for: Callable[[str, str], str]
) -> None:
    sci = key_for("sci2", "scientist")
    assert api.get("/api/v1/audit-events", headers=bearer(sci)).status_code == 403


def test_audit_log_pages(api: TestClient, key_for: Callable[[str, str], str]) -> None:
    for index in range(4):
        key_for(f"user-{index}", "viewer")
    first = api.get("/api/v1/audit-events", params={"limit": 3}, headers=bearer(ADMIN_KEY)).json()
    second = api.get(
        "/api/v1/audit-events",
        params={"limit": 3, "page_token": first["next_page_token"]},
        headers=bearer(ADMIN_KEY),
    ).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
