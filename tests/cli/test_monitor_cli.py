"""``opensage monitor ...``: option parsing, and a real endpoint monitored from the shell:
a schedule created, run and reported (the shifted feature marked as drifted), ground
truth uploaded, baselines created, edited and deleted, errors as one line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import opensage
from opensage.cli import app
from opensage.cli.monitoring import baseline_choice, parse_time, retraining_choice, schedule_choice
from opensage.cli.output import CLIError
from tests.cli.conftest import FEATURES, TRAINED_JOB
from tests.conftest import ServerProcess, free_port

runner = CliRunner()
ENDPOINT = "mon-ep"
SCHEDULE = "mon-watch"
REQUEST = "mon-request-1"


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", url, *args], env={"COLUMNS": "200"})
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def succeeds(url: str, *args: str) -> str:
    code, out, err = run(url, *args)
    assert code == 0, out + err
    return out


def fails(url: str, *args: str) -> str:
    code, out, err = run(url, *args)
    assert code == 1, out + err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    return err


def row_of(out: str, first_cell: str) -> str:
    """The table line whose first cell is ``first_cell``."""
    return next(line for line in out.splitlines() if line.strip("│┃ ").startswith(first_cell + " "))


# -- parsing ---------------------------------------------------------------------------
def test_option_parsing() -> None:
    assert baseline_choice("b", None, None, None) == "b"
    assert baseline_choice(None, "reg", "train", None) == {
        "dataset": "reg",
        "split": "train",
        "version": None,
    }
    for args in [(None, None, None, None), ("b", "reg", None, None), ("b", None, "train", None)]:
        with pytest.raises(CLIError):
            baseline_choice(*args)
    assert schedule_choice("15m", None) == {"every": "15m", "cron": None}
    with pytest.raises(CLIError, match="not both"):
        schedule_choice("1h", "0 * * * *")
    with pytest.raises(CLIError, match="--every: '5x' is not an interval"):
        schedule_choice("5x", None)
    assert retraining_choice(False, None, None, None, False) is None
    assert retraining_choice(False, None, None, None, True) == {"auto_promote": True}
    assert retraining_choice(True, "reg", "validation", "rmse", False) == {
        "auto_promote": False,
        "dataset": "reg",
        "holdout_split": "validation",
        "metric": "rmse",
    }
    assert parse_time("2026-11-27T10:00:00Z", "--window-start") == datetime(
        2026, 11, 27, 10, tzinfo=UTC
    )
    with pytest.raises(CLIError, match="needs a time zone"):
        parse_time("2026-11-27T10:00:00", "--window-start")
    with pytest.raises(CLIError, match="expects an ISO 8601 time"):
        parse_time("yesterday", "--window-end")


def test_bad_options_stop_before_the_server(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for args, message in [
        (["create", "m", "--endpoint", "e"], "give --baseline NAME, or --dataset NAME"),
        (["create", "m", "--endpoint", "e", "--dataset", "d", "--every", "2w"], "--every: '2w'"),
        (["create", "m", "--endpoint", "e", "--dataset", "d", "--every", "1h", "--cron", "@daily"],
         "not both"),
        (["create", "m", "--endpoint", "e", "--baseline", "b", "--problem-type", "ranking"],
         "--problem-type must be one of regression, binary, multiclass"),
        (["run", "m", "--window-start", "noon"], "--window-start expects an ISO 8601 time"),
        (["ground-truth", "e", str(tmp_path / "none.jsonl")], "no such file"),
        (["baseline", "create", "b", "--dataset", "d", "--model-version", "2"],
         "--model-version needs --model-group"),
        (["baseline", "constraints", "b", str(tmp_path / "none.json")], "no such file"),
    ]:  # fmt: skip
        err = fails(nowhere, "monitor", *args)
        assert message in err and "cannot reach" not in err, (args, err)
    (tmp_path / "bad.json").write_text("{features: }")
    assert "is not valid JSON" in fails(
        nowhere, "monitor", "baseline", "constraints", "b", str(tmp_path / "bad.json")
    )


# -- a monitored endpoint --------------------------------------------------------------
@pytest.fixture(scope="module")
def monitored(model_server: ServerProcess) -> Iterator[tuple[str, list[float]]]:
    """The server's URL, with endpoint ``mon-ep`` (capturing every request) serving the
    trained model, after one request of the ``reg:train`` rows with feature ``a`` moved
    far outside its range [0, 10] (``b`` and ``c`` as they are); and those rows' labels."""
    url = model_server.url
    with opensage.Client(url) as client:
        client.training_jobs.get(TRAINED_JOB).register("mon", approved=True)
        endpoint = client.endpoints.create(
            ENDPOINT,
            variants=[{"model_group": "mon"}],
            data_capture={"enabled": True, "sampling_percentage": 100},
        ).wait()
        rows = client.datasets.get("reg").to_pandas(split="train")[FEATURES]
        rows["a"] += 25
        endpoint.predict(rows.to_numpy(), inference_id=REQUEST)
        endpoint.close()
    yield url, [float(v) for v in 3 * rows["a"] - 2 * rows["b"]]


def wait_for_baseline(url: str, name: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        shown = json.loads(succeeds(url, "monitor", "baseline", "show", name, "--json"))
        if shown["status"] != "InProgress":
            return shown  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the baseline's predictions never finished"
        time.sleep(0.2)


def test_create_run_and_report_drift(monitored: tuple[str, list[float]]) -> None:
    url, labels = monitored
    out = succeeds(
        url, "monitor", "create", SCHEDULE, "--endpoint", ENDPOINT, "--dataset", "reg",
        "--split", "train", "--every", "1h", "--webhook", "http://127.0.0.1:9/hook",
        "--tag", "team=cli",
    )  # fmt: skip
    assert f"Created monitoring schedule {SCHEDULE} on endpoint {ENDPOINT}: every 1h" in out
    baseline = wait_for_baseline(url, f"{SCHEDULE}-baseline")
    assert baseline["status"] == "Completed" and baseline["features"] == FEATURES

    out = succeeds(url, "monitor", "run", SCHEDULE)
    assert "execution 1: CompletedWithViolations (manual)" in out
    assert f"1 captured request(s), {len(labels)} row(s)" in out
    assert "Drift against the baseline" in out
    drifted = row_of(out, "a")
    assert drifted.rstrip("│ ").endswith("yes") and "KS " in drifted and "PSI " in drifted
    for name in ("b", "c"):
        assert row_of(out, name).rstrip("│ ").endswith("no"), out
    assert "prediction" in out  # the predictions drift with a
    violations = out.split("Violations (2)")[1].splitlines()
    assert "'a' drifted from the baseline" in row_of("\n".join(violations), "baseline_drift_check")
    assert row_of("\n".join(violations), "prediction_drift_check")

    report = succeeds(url, "monitor", "report", SCHEDULE)
    assert row_of(report, "a") == drifted
    assert succeeds(url, "monitor", "report", SCHEDULE, "1") == report

    executions = succeeds(url, "monitor", "executions", SCHEDULE)
    first = row_of(executions, "1")
    assert "CompletedWithViolations" in first and "manual" in first
    assert f" {len(labels)} " in first
    assert "baseline_drift_check" in first

    shown = succeeds(url, "monitor", "show", SCHEDULE)
    assert "every 1h" in shown and "http://127.0.0.1:9/hook" in shown
    assert "#1 CompletedWithViolations" in shown and "team=cli" in shown
    listed = row_of(succeeds(url, "monitor", "list", "--endpoint", ENDPOINT), SCHEDULE)
    assert "Scheduled" in listed and f"{SCHEDULE}-baseline" in listed

    # --json everywhere parses, and says the same.
    info = json.loads(succeeds(url, "monitor", "show", SCHEDULE, "--json"))
    assert info["every_s"] == 3600 and info["last_execution"]["number"] == 1
    assert [s["name"] for s in json.loads(succeeds(url, "monitor", "list", "--json"))] == [SCHEDULE]
    execution = json.loads(succeeds(url, "monitor", "report", SCHEDULE, "--json"))
    drift = {f["name"]: f["drift"] for f in execution["report"]["features"]}
    assert drift == {"a": True, "b": False, "c": False}
    assert execution["alert"]["url"] == "http://127.0.0.1:9/hook"
    listed_executions = json.loads(succeeds(url, "monitor", "executions", SCHEDULE, "--json"))
    assert [e["number"] for e in listed_executions] == [1]
    baselines = json.loads(succeeds(url, "monitor", "baseline", "list", "--json"))
    assert f"{SCHEDULE}-baseline" in [b["name"] for b in baselines]

    # A window with no traffic: no features to compare, and the report says so.
    queued = json.loads(succeeds(url, "monitor", "run", SCHEDULE, "--no-wait", "--json"))
    assert queued["number"] == 2 and queued["status"] in ("Pending", "InProgress")
    deadline = time.monotonic() + 30
    while json.loads(succeeds(url, "monitor", "report", SCHEDULE, "2", "--json"))["report"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    out = succeeds(url, "monitor", "report", SCHEDULE)
    assert "execution 2: Completed" in out and "no captured traffic in the window" in out
    assert "No violations." in out


def test_ground_truth_and_model_quality(monitored: tuple[str, list[float]], tmp_path: Path) -> None:
    url, labels = monitored
    schedule = "mon-quality"
    succeeds(url, "monitor", "create", schedule, "--endpoint", ENDPOINT, "--dataset", "reg",
             "--cron", "0 * * * *", "--problem-type", "regression")  # fmt: skip
    assert "cron 0 * * * * (UTC)" in succeeds(url, "monitor", "show", schedule)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"eventId": "x", "groundTruth": 1}\nnot json\n')
    err = fails(url, "monitor", "ground-truth", ENDPOINT, str(bad))
    assert "not valid JSON" in err and "line 2" in err
    no_id = tmp_path / "no-id.json"
    no_id.write_text('[{"groundTruth": 1}]')
    assert "eventId" in fails(url, "monitor", "ground-truth", ENDPOINT, str(no_id))
    assert "endpoint 'nope' does not exist" in fails(
        url, "monitor", "ground-truth", "nope", str(no_id)
    )

    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({"eventId": REQUEST, "groundTruth": labels}) + "\n")
    out = succeeds(url, "monitor", "ground-truth", ENDPOINT, str(truth))
    assert f"Stored 1 ground-truth record(s) for endpoint {ENDPOINT}" in out
    stored = json.loads(succeeds(url, "monitor", "ground-truth", ENDPOINT, str(truth), "--json"))
    assert stored["records"] == 1 and stored["endpoint"] == ENDPOINT

    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    end = datetime.now(UTC).isoformat()
    out = succeeds(url, "monitor", "run", schedule, "--window-start", start, "--window-end", end)
    assert f"Model quality (regression, {len(labels)} labelled rows):" in out, out
    assert row_of(out, "rmse") and row_of(out, "r2")


def test_errors_are_one_line(monitored: tuple[str, list[float]]) -> None:
    url, _ = monitored
    assert "monitoring schedule 'nope' does not exist" in fails(url, "monitor", "show", "nope")
    assert "monitoring schedule 'nope' does not exist" in fails(url, "monitor", "run", "nope")
    assert "monitoring schedule 'nope' does not exist" in fails(url, "monitor", "report", "nope")
    assert "baseline 'nope' does not exist" in fails(url, "monitor", "baseline", "show", "nope")
    assert "endpoint 'nope' does not exist" in fails(
        url, "monitor", "create", "m", "--endpoint", "nope", "--dataset", "reg"
    )
    assert "is not a cron expression" in fails(
        url, "monitor", "create", "m", "--endpoint", ENDPOINT, "--dataset", "reg", "--cron", "often"
    )
    assert "baseline 'nope' does not exist" in fails(
        url, "monitor", "create", "m", "--endpoint", ENDPOINT, "--baseline", "nope"
    )
    succeeds(url, "monitor", "create", "mon-idle", "--endpoint", ENDPOINT, "--dataset", "reg")
    assert "'mon-idle' has no executions yet" in fails(url, "monitor", "report", "mon-idle")
    assert "already exists" in fails(
        url, "monitor", "create", "mon-idle", "--endpoint", ENDPOINT, "--dataset", "reg"
    )
    assert "has no execution 7" in fails(url, "monitor", "report", "mon-idle", "7")

    out = succeeds(url, "monitor", "stop", "mon-idle")
    assert "mon-idle: Stopped" in out
    assert json.loads(succeeds(url, "monitor", "show", "mon-idle", "--json"))["next_run_at"] is None
    assert "mon-idle: Scheduled, next run" in succeeds(url, "monitor", "start", "mon-idle")
    assert "Deleted monitoring schedule mon-idle" in succeeds(url, "monitor", "delete", "mon-idle")
    assert "does not exist" in fails(url, "monitor", "show", "mon-idle")


def test_baselines(monitored: tuple[str, list[float]], tmp_path: Path) -> None:
    url, _ = monitored
    out = succeeds(url, "monitor", "baseline", "create", "mon-base", "--dataset", "reg",
                   "--split", "train", "--feature", "a", "--feature", "b")  # fmt: skip
    assert "Baseline mon-base: Completed, 2 feature(s) of dataset reg v1 split train" in out
    shown = succeeds(url, "monitor", "baseline", "show", "mon-base")
    assert "dataset reg v1 split train" in shown
    assert "fractional" in row_of(shown, "a") and "yes" in row_of(shown, "a")
    assert "KS > 0.1, PSI > 0.2" in shown
    assert "c " not in shown.split("Features")[1]
    listed = row_of(succeeds(url, "monitor", "baseline", "list"), "mon-base")
    assert "Completed" in listed and "dataset reg v1 split train" in listed

    # Edit the constraints as JSON: from `show --json`, whole or only its constraints.
    info = json.loads(succeeds(url, "monitor", "baseline", "show", "mon-base", "--json"))
    info["constraints"]["drift"]["ks_threshold"] = 0.5
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(info))
    out = succeeds(url, "monitor", "baseline", "constraints", "mon-base", str(whole))
    assert "Updated the constraints of baseline mon-base (2 feature(s))" in out
    assert "KS > 0.5" in succeeds(url, "monitor", "baseline", "show", "mon-base")
    constraints = info["constraints"]
    constraints["features"][0]["name"] = "z"
    only = tmp_path / "constraints.json"
    only.write_text(json.dumps(constraints))
    assert "the baseline has no feature(s) ['z']" in fails(
        url, "monitor", "baseline", "constraints", "mon-base", str(only)
    )

    # A baseline in use is not deleted; its schedule first.
    succeeds(url, "monitor", "create", "mon-uses", "--endpoint", ENDPOINT, "--baseline",
             "mon-base")  # fmt: skip
    assert "used by monitoring schedule(s) ['mon-uses']" in fails(
        url, "monitor", "baseline", "delete", "mon-base"
    )
    succeeds(url, "monitor", "delete", "mon-uses")
    assert "Deleted baseline mon-base" in succeeds(url, "monitor", "baseline", "delete", "mon-base")

    # With a model: its predictions are baselined too, once the spinner ends.
    out = succeeds(url, "monitor", "baseline", "create", "mon-model", "--dataset", "reg",
                   "--model-group", "mon", "--json")  # fmt: skip
    with_model = json.loads(out)
    assert with_model["status"] == "Completed" and "prediction" in with_model["statistics"]
    shown = succeeds(url, "monitor", "baseline", "show", "mon-model")
    assert row_of(shown, "prediction") and "mon v1" in shown
