"""Endpoints end to end: content types and their errors, variants, blue/green updates,
model errors, data capture, metrics and the approval gate."""

from __future__ import annotations

import collections
import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

import opensage
from tests.serving.conftest import FEATURES, Served


@pytest.fixture(scope="module")
def endpoint(served: Served) -> opensage.Endpoint:
    return served.v2.deploy("exam-live", data_capture={"enabled": True})


def test_every_content_type_predicts_what_the_model_predicts(
    served: Served, endpoint: opensage.Endpoint, tmp_path: Path
) -> None:
    expected = served.local_model(2, tmp_path).predict(served.rows)
    rows = served.rows.tolist()
    assert endpoint.predict(rows) == pytest.approx(expected.tolist())
    named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert endpoint.predict(named) == pytest.approx(expected.tolist())

    csv = "".join(",".join(repr(v) for v in row) + "\n" for row in rows).encode()
    answer = endpoint.invoke(csv, "text/csv")
    assert answer.headers["content-type"] == "text/csv"
    assert [float(v) for v in answer.text.split()] == pytest.approx(expected.tolist())

    lines = b"".join(orjson.dumps(row) + b"\n" for row in rows)
    answer = endpoint.invoke(lines, "application/jsonlines", accept="application/json")
    assert answer.json()["predictions"] == pytest.approx(expected.tolist())

    bare = endpoint.invoke(
        orjson.dumps(rows[0]), "application/json", accept="application/jsonlines"
    )
    assert json.loads(bare.text) == {"prediction": pytest.approx(float(expected[0]))}
    assert bare.headers["x-amzn-invoked-production-variant"] == "AllTraffic"


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "words"),
    [
        (b"1,2\n", "text/csv", None, 400, "row 0 has 2 values; the model takes 3 features"),
        (b"1,abc,3\n", "text/csv", None, 400, "'abc' is not a number"),
        (b'{"instances": [{"experience": 1, "hours": 2}]}', "application/json", None, 400,
         "missing ['noise']"),
        (b'{"instances": [{"experience": 1, "hours": 2, "noise": 3, "age": 4}]}',
         "application/json", None, 400, "unknown features ['age']"),
        (b'{"instances": [[1, 2, 3]', "application/json", None, 400, "not valid JSON"),
        (b"", "text/csv", None, 400, "empty"),
        (b"1,2,3", "text/plain", None, 415, "content type 'text/plain' is not supported"),
        (b"1,2,3", "text/csv", "image/png", 406, "cannot answer with 'image/png'"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_clear_4xx(
    endpoint: opensage.Endpoint,
    body: bytes,
    content_type: str,
    accept: str | None,
    status: int,
    words: str,
) -> None:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    response = httpx.post(endpoint.info.invocation_url, content=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    # The endpoint keeps serving.
    assert len(endpoint.predict([[1, 2, 3]])) == 1


def test_an_oversized_payload_is_refused(endpoint: opensage.Endpoint) -> None:
    body = b"1,2,3\n" * (7 * 1024 * 1024 // 6)
    response = httpx.post(
        endpoint.info.invocation_url, content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert "larger than 6 MiB" in response.json()["error"]["message"]


def test_the_control_plane_redirects_invocations_to_the_data_plane(
    served: Served, endpoint: opensage.Endpoint
) -> None:
    session = served.client.session
    response = session._http.post(
        "/endpoints/exam-live/invocations",
        content=b"1,2,3\n",
        headers={"Content-Type": "text/csv"},
        follow_redirects=False,
    )
    assert response.status_code == 307
    assert response.headers["location"] == endpoint.info.invocation_url


def test_data_capture_holds_exactly_the_captured_invocations(
    served: Served, endpoint: opensage.Endpoint
) -> None:
    sent = {}
    for i in range(15):
        answer = endpoint.invoke(f"{i},1,2\n".encode(), "text/csv")
        assert answer.headers["x-opensage-captured"] == "true"
        sent[answer.headers["x-opensage-event-id"]] = (f"{i},1,2\n", answer.text)
    deadline = time.monotonic() + 10
    store = served.platform.store
    while True:
        records = {}
        for key in store.list("endpoints/exam-live/data-capture/AllTraffic"):
            for line in store.read_bytes(key).splitlines():
                record = orjson.loads(line)
                records[record["eventMetadata"]["eventId"]] = record
        if set(sent) <= set(records) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    captured = {k: v for k, v in records.items() if k in sent}
    assert set(captured) == set(sent)
    for event_id, (body, output) in sent.items():
        data = captured[event_id]["captureData"]
        assert data["endpointInput"]["data"] == body
        assert data["endpointInput"]["observedContentType"] == "text/csv"
        assert data["endpointOutput"]["data"] == output


def test_metrics_count_invocations_and_errors(endpoint: opensage.Endpoint) -> None:
    url = endpoint.info.invocation_url.replace("/endpoints/exam-live/invocations", "/metrics")

    def count(name: str) -> float:
        text = httpx.get(url).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and 'endpoint="exam-live"' in line
        )

    before_ok = count("opensage_invocations_total")
    before_errors = count("opensage_invocation_errors_total")
    for _ in range(3):
        endpoint.predict([[1, 2, 3]])
    with pytest.raises(opensage.InvalidInput):
        endpoint.invoke(b"1\n", "text/csv")
    assert count("opensage_invocations_total") == before_ok + 3
    assert count("opensage_invocation_errors_total") == before_errors + 1
    assert "opensage_model_latency_seconds_bucket" in httpx.get(url).text


def test_variants_split_traffic_by_weight_and_a_header_targets_one(
    served: Served, tmp_path: Path
) -> None:
    endpoint = served.client.endpoints.create(
        "exam-split",
        variants=[
            {"name": "small", "model_group": "exam", "model_version": 1, "initial_weight": 3},
            {"name": "large", "model_group": "exam", "model_version": 2, "initial_weight": 1},
        ],
    ).wait()
    try:
        seen = collections.Counter(
            endpoint.invoke(b"1,2,3\n", "text/csv").headers["x-amzn-invoked-production-variant"]
            for _ in range(400)
        )
        assert set(seen) == {"small", "large"}
        assert 0.68 < seen["small"] / 400 < 0.82
        expected = served.local_model(1, tmp_path).predict(np.array([[1.0, 2.0, 3.0]]))
        for _ in range(5):
            assert endpoint.predict([[1, 2, 3]], target_variant="small") == pytest.approx(
                expected.tolist()
            )
        with pytest.raises(opensage.InvalidInput, match="no variant 'nope'"):
            endpoint.predict([[1, 2, 3]], target_variant="nope")
    finally:
        endpoint.delete()


def test_a_blue_green_update_under_traffic_loses_no_request(served: Served, tmp_path: Path) -> None:
    endpoint = served.v1.deploy("exam-swap", instances=2)
    small = served.local_model(1, tmp_path).predict(np.array([[1.0, 2.0, 3.0]]))[0]
    large = served.local_model(2, tmp_path).predict(np.array([[1.0, 2.0, 3.0]]))[0]
    results: list[float] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def traffic() -> None:
        caller = served.client.endpoints.get("exam-swap")
        while not stop.is_set():
            try:
                results.append(caller.predict([[1, 2, 3]])[0])
            except Exception as exc:  # every failure counts
                errors.append(exc)

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    endpoint.update([{"model_group": "exam", "model_version": 2}])
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(results) > 50
        assert results[0] == pytest.approx(small)
        assert results[-1] == pytest.approx(large)
        assert set(np.round(results, 4)) <= {round(float(small), 4), round(float(large), 4)}
        assert endpoint.refresh().info.variants[0].model_version == 2
    finally:
        endpoint.delete()


MODEL_CODE = """
import numpy as np


class Model:
    def predict(self, rows):
        if (rows[:, 0] < 0).any():
            raise ValueError("negative experience is impossible")
        return rows.sum(axis=1)


def model_fn(model_dir):
    return Model()
"""


def test_a_model_that_raises_answers_424_and_the_endpoint_keeps_serving(
    served: Served, tmp_path: Path
) -> None:
    import tarfile

    folder = tmp_path / "custom"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_text(MODEL_CODE)
    archive = tmp_path / "custom.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=".")
    from opensage.client.datasets import upload_file

    source = upload_file(served.client.session, archive)
    version = served.client.models.register("custom", source=source, approval_status="Approved")
    endpoint = version.deploy("custom-live")
    try:
        assert endpoint.predict([[1, 2, 3]]) == [6.0]
        with pytest.raises(opensage.ModelError, match="negative experience is impossible"):
            endpoint.predict([[-1, 2, 3]])
        assert endpoint.predict([[1, 1, 1]]) == [3.0]
    finally:
        endpoint.delete()


def test_only_approved_versions_deploy_unless_forced(served: Served) -> None:
    job = served.client.training_jobs.get("exam-small")
    pending = job.register("exam-gated")
    with pytest.raises(opensage.InvalidInput, match="PendingManualApproval; approve it"):
        pending.deploy("gated")
    forced = pending.deploy("gated", force=True)
    try:
        assert forced.status.value == "InService"
        with pytest.raises(opensage.Conflict, match="deployed on"):
            pending.reject()
        with pytest.raises(opensage.Conflict, match="deployed on"):
            pending.delete()
    finally:
        forced.delete()
    pending.reject()
    assert served.client.models.get("exam-gated", 1).approval_status == "Rejected"
    with pytest.raises(opensage.InvalidInput, match="no approved version"):
        served.client.endpoints.create("gated", variants=[{"model_group": "exam-gated"}])


def test_registered_versions_keep_metrics_and_lineage(served: Served, tmp_path: Path) -> None:
    versions = served.client.models.versions("exam")
    assert [v.version for v in versions] == [2, 1]
    latest = versions[0].info
    assert latest.training_job == "exam-large"
    assert latest.algorithm == "xgboost"
    assert latest.feature_names == FEATURES
    assert latest.lineage["channels"]["train"]["dataset"] == "exam"
    assert latest.lineage["hyperparameters"]["num_round"] == "40"
    assert latest.metrics["train:rmse"] > 0
    with pytest.raises(opensage.InvalidInput, match="'no-such-job' does not exist"):
        served.client.models.register("exam", training_job="no-such-job")
    # The version's files are its own: deleting the training job keeps it servable.
    served.client.training_jobs.get("exam-large").delete()
    model = served.local_model(2, tmp_path)
    assert model.predict(served.rows).shape == (len(served.rows),)
