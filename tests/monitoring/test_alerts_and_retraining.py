"""What happens on a violation: the webhook alert (delivered, or failed without holding
monitoring up) and the retraining loop (train again on the newest data, compare on the
holdout, promote only a better model and only when allowed)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest

from opensage.client.endpoints import Endpoint
from opensage.client.monitoring import Execution, MonitoringSchedule
from tests.monitoring.conftest import LABEL, Env, make_frame

Sent = tuple[datetime, datetime, list[tuple[str, list[float]]]]


def shifted_world(rows: int, seed: int) -> pd.DataFrame:
    """Rows after the drift: experience three times larger, the same law for the label."""
    frame = make_frame(rows, seed)
    frame[LABEL] += 60 * frame["experience"]
    frame["experience"] *= 3
    return frame


@dataclass
class World:
    env: Env
    weak: Endpoint
    strong: Endpoint
    weak_version: int
    strong_version: int
    weak_shift: Sent
    strong_shift: Sent
    strong_steady: Sent


@pytest.fixture(scope="module")
def world(env: Env) -> Iterator[World]:
    weak_version = env.train("weak", 1)
    strong_version = env.train("strong", 40)
    weak = env.deploy("exam-weak", "weak", weak_version)
    strong = env.deploy("exam-strong", "strong", strong_version)
    env.client.baselines.create("exam-base", "exam", version=1, split="train")
    # The newest data is the drifted world; a small dataset of the old world too.
    env.client.datasets.get("exam").add_version(shifted_world(1000, seed=11))
    env.client.datasets.create(
        make_frame(40, seed=12),
        name="exam-few",
        label=LABEL,
        splits={"train": 0.5, "validation": 0.5},
    )
    train = env.client.datasets.get("exam").to_pandas(split="train", version=1)
    drifted = shifted_world(200, seed=13)
    yield World(
        env,
        weak,
        strong,
        weak_version,
        strong_version,
        env.send(weak, drifted),
        env.send(strong, drifted),
        env.send(strong, train.iloc[:200]),
    )
    weak.close()
    strong.close()


def run(schedule: MonitoringSchedule, window: Sent) -> Execution:
    return schedule.run(window_start=window[0], window_end=window[1], timeout=60)


def poll(execution: Execution, field: str, done: set[str], timeout: float) -> list[str]:
    """The statuses ``execution.<field>`` went through until one in ``done``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = getattr(execution.refresh().info, field) or {}
        status = state.get("status")
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        if status in done:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{field} still {seen} after {timeout} s: {state}")


# -- webhooks -------------------------------------------------------------------------
class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/monitoring"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_a_violation_is_posted_to_the_webhook(world: World, receiver: Receiver) -> None:
    schedule = world.env.client.monitoring_schedules.create(
        "alerted", "exam-strong", "exam-base", webhook_url=receiver.url
    )
    quiet = run(schedule, world.strong_steady)
    assert quiet.status.value == "Completed", quiet.report.violations
    loud = run(schedule, world.strong_shift)
    assert loud.status.value == "CompletedWithViolations"
    assert poll(loud, "alert", {"Delivered", "Failed"}, timeout=15)[-1] == "Delivered"
    assert loud.info.alert is not None
    assert loud.info.alert["url"] == receiver.url and loud.info.alert["attempts"] == 1

    assert len(receiver.received) == 1  # the clean execution sent nothing
    assert schedule.execution(quiet.number).info.alert is None
    body = receiver.received[0]
    assert body["monitoring_schedule"] == "alerted" and body["endpoint"] == "exam-strong"
    assert body["execution"]["number"] == loud.number
    assert body["execution"]["status"] == "CompletedWithViolations"
    violations = {(v["check"], v["feature"]) for v in body["execution"]["report"]["violations"]}
    assert ("baseline_drift_check", "experience") in violations
    assert len(violations) == len(loud.report.violations)
    schedule.delete()


def test_a_dead_webhook_fails_after_retries(world: World) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    schedule = world.env.client.monitoring_schedules.create(
        "alert-refused", "exam-strong", "exam-base", webhook_url=f"http://127.0.0.1:{port}/x"
    )
    execution = run(schedule, world.strong_shift)
    assert execution.status.value == "CompletedWithViolations"
    seen = poll(execution, "alert", {"Delivered", "Failed"}, timeout=20)
    assert seen[-1] == "Failed"
    alert = execution.info.alert
    assert alert is not None and alert["attempts"] == 3 and alert["error"]
    schedule.delete()


def test_a_hanging_webhook_does_not_hold_monitoring_up(world: World) -> None:
    hanging = socket.socket()  # accepts connections (backlog) and never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(16)
    try:
        url = f"http://127.0.0.1:{hanging.getsockname()[1]}/hook"
        schedule = world.env.client.monitoring_schedules.create(
            "alert-hanging", "exam-strong", "exam-base", webhook_url=url
        )
        begun = time.monotonic()
        first = run(schedule, world.strong_shift)
        assert first.status.value == "CompletedWithViolations"
        assert time.monotonic() - begun < 10
        time.sleep(0.5)
        assert first.refresh().info.alert == {"status": "Sending", "url": url}
        begun = time.monotonic()
        second = run(schedule, world.strong_steady)
        assert second.status.value == "Completed"
        assert time.monotonic() - begun < 10
        assert second.info.alert is None
        schedule.delete()
    finally:
        hanging.close()


# -- retraining -----------------------------------------------------------------------
def model_version(env: Env, group: str, version: int) -> dict[str, Any]:
    answer = env.http.get(f"/api/v1/model-groups/{group}/versions/{version}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def retrain(world: World, name: str, endpoint: str, window: Sent, **config: Any) -> Execution:
    schedule = world.env.client.monitoring_schedules.create(
        name, endpoint, "exam-base", retraining={"holdout_split": "validation", **config}
    )
    execution = run(schedule, window)
    assert execution.status.value == "CompletedWithViolations"
    assert ("baseline_drift_check", "experience") in {
        (v.check.value, v.feature) for v in execution.report.violations
    }
    return execution


def test_retraining_promotes_a_better_model(world: World) -> None:
    env = world.env
    execution = retrain(world, "weak-retrain", "exam-weak", world.weak_shift, auto_promote=True)
    seen = poll(execution, "retraining", {"Completed", "Failed"}, timeout=120)
    state = execution.info.retraining
    assert state is not None and state["status"] == "Completed", state
    assert seen == ["Training", "Evaluating", "Completed"]
    assert state["model_group"] == "weak" and state["current_version"] == world.weak_version
    assert state["dataset"] == "exam" and state["dataset_version"] == 2
    assert state["metric"] == "rmse"
    assert state["candidate_score"] < state["current_score"]
    assert state["better"] is True and state["promoted"] is True
    candidate = state["candidate_version"]
    assert candidate != world.weak_version
    registered = model_version(env, "weak", candidate)
    assert registered["approval_status"] == "Approved"
    assert registered["training_job"] == state["training_job"]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        endpoint = env.client.endpoints.get("exam-weak")
        if (
            endpoint.status.value == "InService"
            and endpoint.info.variants[0].model_version == candidate
        ):
            break
        time.sleep(0.3)
    assert endpoint.info.variants[0].model_version == candidate, endpoint.info
    assert endpoint.status.value == "InService"
    assert len(endpoint.predict([[10.0, 5.0, 2, 0.0]])) == 1


def test_a_better_model_is_not_promoted_without_auto_promote(world: World) -> None:
    env = world.env
    execution = retrain(world, "strong-keep", "exam-strong", world.strong_shift)
    poll(execution, "retraining", {"Completed", "Failed"}, timeout=120)
    state = execution.info.retraining
    assert state is not None and state["status"] == "Completed", state
    assert state["candidate_score"] < state["current_score"]  # trained on the new world
    assert state["better"] is True and state["promoted"] is False
    registered = model_version(env, "strong", state["candidate_version"])
    assert registered["approval_status"] == "PendingManualApproval"
    assert "holdout rmse" in registered["description"]
    endpoint = env.client.endpoints.get("exam-strong")
    assert endpoint.info.variants[0].model_version == world.strong_version
    assert model_version(env, "strong", world.strong_version)["approval_status"] == "Approved"


def test_a_worse_candidate_is_not_promoted(world: World) -> None:
    env = world.env
    execution = retrain(
        world,
        "strong-few",
        "exam-strong",
        world.strong_shift,
        auto_promote=True,
        dataset="exam-few",
    )
    poll(execution, "retraining", {"Completed", "Failed"}, timeout=120)
    state = execution.info.retraining
    assert state is not None and state["status"] == "Completed", state
    assert state["dataset"] == "exam-few"
    assert state["candidate_score"] > state["current_score"]  # 20 rows make a poor model
    assert state["better"] is False and state["promoted"] is False
    candidate = model_version(env, "strong", state["candidate_version"])
    assert candidate["approval_status"] == "Rejected"
    assert "not better" in candidate["description"]
    endpoint = env.client.endpoints.get("exam-strong")
    assert endpoint.info.variants[0].model_version == world.strong_version
    assert endpoint.status.value == "InService"


def test_a_schedule_retrains_again_on_a_later_violation(world: World) -> None:
    first = retrain(world, "strong-twice", "exam-strong", world.strong_shift)
    poll(first, "retraining", {"Completed", "Failed"}, timeout=120)
    assert first.info.retraining is not None
    assert first.info.retraining["status"] == "Completed", first.info.retraining
    schedule = world.env.client.monitoring_schedules.get("strong-twice")
    second = run(schedule, world.strong_shift)
    assert second.status.value == "CompletedWithViolations"
    poll(second, "retraining", {"Completed", "Failed"}, timeout=120)
    state = second.info.retraining
    assert state is not None and state["status"] == "Completed", state
    assert state["training_job"] != first.info.retraining["training_job"]
    assert state["candidate_version"] != first.info.retraining["candidate_version"]
