"""Endpoints across a server restart, and the data plane's access check."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.platform import open_platform
from opensage.server.app import create_app
from tests.conftest import ServerProcess

ADMIN_KEY = "osk_serving-admin-key-0123456789abcdefghijklmn"


def _model(client: opensage.Client, folder: Path) -> opensage.ModelVersion:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (200, 2))
    path = folder / "tiny.csv"
    pd.DataFrame(x, columns=["a", "b"]).assign(y=x.sum(axis=1)).to_csv(path, index=False)
    client.datasets.create(path, name="tiny", label="y")
    job = client.training_jobs.create(
        "tiny-job",
        algorithm="xgboost",
        hyperparameters={"num_round": 5},
        channels={"train": "tiny"},
    ).wait(timeout=120)
    return job.register("tiny", approved=True)


def test_endpoints_come_back_after_the_server_is_killed(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "data").start()
    try:
        with opensage.Client(server.url) as client:
            endpoint = _model(client, tmp_path).deploy("tiny-live")
            before = endpoint.predict([[0.5, 0.5]])
            port = endpoint.info.data_plane_port
        server.kill()
        server.start()
        with opensage.Client(server.url) as client:
            endpoint = client.endpoints.get("tiny-live").wait(timeout=60)
            assert endpoint.info.data_plane_port == port
            assert endpoint.predict([[0.5, 0.5]]) == before
            endpoint.delete()
            assert client.endpoints.list() == []
            # Its port is free again once its workers are gone.
            try:
                httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2)
                reachable = True
            except httpx.TransportError:
                reachable = False
            assert not reachable
    finally:
        server.stop()


def test_the_data_plane_checks_api_keys_when_auth_is_on(tmp_path: Path) -> None:
    platform = open_platform(
        Settings(data_dir=tmp_path / "data", auth="on", admin_api_key=ADMIN_KEY, warm_workers=False)
    )
    with TestClient(create_app(platform=platform), base_url="http://testserver") as http:
        admin = opensage.Client("http://testserver", http=http, api_key=ADMIN_KEY)
        endpoint = _model(admin, tmp_path).deploy("guarded")
        url = endpoint.info.invocation_url
        body, headers = b"0.1,0.2\n", {"Content-Type": "text/csv"}
        assert httpx.post(url, content=body, headers=headers).status_code == 401
        wrong = {**headers, "Authorization": "Bearer osk_not-a-real-key"}
        assert httpx.post(url, content=body, headers=wrong).status_code == 401
        admin.users.create("labeler", role="labeler")
        labeler_key = admin.keys.create(user="labeler").key
        denied = {**headers, "Authorization": f"Bearer {labeler_key}"}
        response = httpx.post(url, content=body, headers=denied)
        assert response.status_code == 403
        assert "may not do this" in response.json()["error"]["message"]
        assert len(endpoint.predict([[0.1, 0.2]])) == 1  # the SDK sends the admin's key
        endpoint.delete()
    platform.close()
