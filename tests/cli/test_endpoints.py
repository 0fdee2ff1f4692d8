"""``opensage endpoint ...``: option parsing, and a real endpoint created, invoked, updated
blue/green and deleted."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from opensage.cli import app
from opensage.cli.endpoints import parse_model, parse_variant
from opensage.cli.output import CLIError
from tests.cli.conftest import TRAINED_JOB
from tests.conftest import ServerProcess, free_port

runner = CliRunner()

DOUBLER = """
import numpy as np

def model_fn(model_dir):
    return 2.0

def predict_fn(data, model):
    return np.asarray(data).sum(axis=1) * model
"""
BROKEN = """
def model_fn(model_dir):
    raise RuntimeError("this model cannot load")
"""


def run(url: str, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", url, *args], input=input, env={"COLUMNS": "200"})
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def write_model(path: Path, inference: str) -> Path:
    """A .tar.gz of model files served by ``code/inference.py``."""
    data = textwrap.dedent(inference).encode()
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo("code/inference.py")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return path


# -- parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("blue=reg:3:0.5", {"model_version": 3, "initial_weight": 0.5}),
        ("blue=reg:3", {"model_version": 3}),
        ("blue=reg", {"model_version": None}),
        ("blue=reg::2", {"model_version": None, "initial_weight": 2.0}),
        ("blue=reg:latest:1", {"model_version": None, "initial_weight": 1.0}),
    ],
)
def test_variant_forms(item: str, expected: dict[str, Any]) -> None:
    assert parse_variant(item) == {"name": "blue", "model_group": "reg", **expected}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("blue", "--variant expects NAME=GROUP[:VERSION[:WEIGHT]], got 'blue'"),
        ("=reg:1", "got '=reg:1'"),
        ("blue=", "got 'blue='"),
        ("blue=:1", "got 'blue=:1'"),
        ("blue=reg:1:2:3", "got 'blue=reg:1:2:3'"),
        ("blue=reg:x", "--variant 'blue=reg:x': VERSION must be a number from 1, or 'latest'"),
        ("blue=reg:0", "VERSION must be a number from 1"),
        ("blue=reg:1:heavy", "--variant 'blue=reg:1:heavy': WEIGHT must be a number"),
    ],
)
def test_bad_variants_are_named(item: str, message: str) -> None:
    with pytest.raises(CLIError) as raised:
        parse_variant(item)
    assert message in str(raised.value)


def test_model_forms() -> None:
    assert parse_model("reg") == {"model_group": "reg", "model_version": None}
    assert parse_model("reg:2") == {"model_group": "reg", "model_version": 2}
    for bad in ("reg:", ":2", "reg:two"):
        with pytest.raises(CLIError, match="--model"):
            parse_model(bad)


def test_bad_options_stop_before_the_server(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for args, message in [
        (["create", "e"], "give --model GROUP[:VERSION] or --variant"),
        (["create", "e", "--model", "reg", "--variant", "a=reg"], "not both"),
        (["create", "e", "--variant", "a=reg", "--variant", "a=other"], "repeated: a"),
        (["create", "e", "--model", "reg", "--capture", "0"], "--capture is a percentage"),
        (["create", "e", "--model", "reg", "--capture", "150"], "--capture is a percentage"),
        (["update", "e", "--capture", "5", "--no-capture"], "--capture or --no-capture"),
        (["invoke", "e"], "give the request body with --data TEXT or --file PATH"),
        (["invoke", "e", "-d", "1", "-f", "x.csv"], "give the request body with --data"),
        (["invoke", "e", "-f", str(tmp_path / "none.csv")], "no such file"),
    ]:
        code, _, err = run(nowhere, "endpoint", *args)
        assert code == 1, args
        assert message in err and "cannot reach" not in err, (args, err)


# -- a real endpoint -------------------------------------------------------------------
def invoke(url: str, name: str, *args: str) -> str:
    code, out, err = run(url, "endpoint", "invoke", name, *args)
    assert code == 0, err
    return out


def status_of(url: str, name: str) -> str:
    code, out, err = run(url, "endpoint", "show", name, "--json")
    assert code == 0, err
    return str(json.loads(out)["status"])


def fails(url: str, *args: str) -> str:
    code, out, err = run(url, *args)
    assert code == 1, out + err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_deploy_invoke_update_delete(model_server: ServerProcess, tmp_path: Path) -> None:
    url = model_server.url
    for args in (
        ["--training-job", TRAINED_JOB, "--approve"],  # v1: XGBoost, approved
        ["--training-job", TRAINED_JOB],  # v2: pending
        ["--source", str(write_model(tmp_path / "doubler.tar.gz", DOUBLER))],  # v3: 2 * sum
    ):
        code, _, err = run(url, "model", "register", "reg", *args)
        assert code == 0, err

    assert "reg v2 is PendingManualApproval; approve it, or deploy with force" in fails(
        url, "endpoint", "create", "reg-ep", "--model", "reg:2"
    )
    assert "model group 'nope' does not exist" in fails(
        url, "endpoint", "create", "reg-ep", "--model", "nope"
    )

    code, out, err = run(
        url, "endpoint", "create", "reg-ep", "--model", "reg", "--capture", "100",
        "--max-batch-wait-ms", "2", "--tag", "team=cli",
    )  # fmt: skip
    assert code == 0, err
    assert "Endpoint reg-ep is InService" in out
    assert "/endpoints/reg-ep/invocations" in out
    row = next(line for line in out.splitlines() if "AllTraffic" in line)
    assert "reg v1" in row and "100%" in row  # the newest approved version

    code, out, _ = run(url, "endpoint", "list")
    row = next(line for line in out.splitlines() if "reg-ep" in line)
    assert "InService" in row and "AllTraffic: reg v1" in row
    code, out, _ = run(url, "endpoint", "show", "reg-ep", "--json")
    shown = json.loads(out)
    assert shown["status"] == "InService" and shown["tags"] == {"team": "cli"}
    assert shown["data_capture"] == {"enabled": True, "sampling_percentage": 100.0}
    assert shown["variants"][0]["max_batch_wait_ms"] == 2.0
    port = shown["data_plane_port"]
    code, out, _ = run(url, "endpoint", "show", "reg-ep")
    assert f"http://127.0.0.1:{port}/metrics" in out
    assert "100% to endpoints/reg-ep/data-capture/<variant>/YYYY/MM/DD/HH/" in out

    # CSV, JSON and JSON Lines; the answer in the request's type unless --accept says.
    prediction = float(invoke(url, "reg-ep", "--data", "1,2,3"))
    rows = tmp_path / "rows.csv"
    rows.write_text("1,2,3\n7,1,0\n")
    by_csv = [float(line) for line in invoke(url, "reg-ep", "--file", str(rows)).split()]
    assert by_csv[0] == prediction and len(by_csv) == 2
    assert by_csv[1] > prediction  # y grows with a and falls with b
    answer = json.loads(
        invoke(url, "reg-ep", "--data", '{"instances": [{"a": 1, "b": 2, "c": 3}]}')
    )
    assert answer == {"predictions": [prediction]}
    (tmp_path / "rows.jsonl").write_text('{"a": 1, "b": 2, "c": 3}\n[7, 1, 0]\n')
    lines = invoke(url, "reg-ep", "--file", str(tmp_path / "rows.jsonl")).splitlines()
    assert [json.loads(line)["prediction"] for line in lines] == by_csv
    answer = json.loads(invoke(url, "reg-ep", "-d", "1,2,3", "--accept", "application/json"))
    assert answer == {"predictions": [prediction]}

    # Bad input: one clear line and exit status 1.
    for args, message in [
        (["-d", "1,2"], "row 0 has 2 values; the model takes 3 features"),
        (["-d", "1,x,3"], "row 0, feature 'b': 'x' is not a number"),
        (["-d", "1,2,3", "--content-type", "text/plain"], "content type 'text/plain' is not"),
        (["-d", "1,2,3", "--accept", "text/html"], "cannot answer with 'text/html'"),
        (["-d", "1,2,3", "--variant", "nope"], "no variant 'nope'; variants: ['AllTraffic']"),
    ]:
        assert message in fails(url, "endpoint", "invoke", "reg-ep", *args)
    big = tmp_path / "big.csv"
    big.write_bytes(b"1,2,3\n" * 1_200_000)  # 7.2 MB: over the 6 MiB limit
    assert "the payload is larger than" in fails(
        url, "endpoint", "invoke", "reg-ep", "-f", str(big)
    )

    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "opensage_invocations_total{" in metrics and 'endpoint="reg-ep"' in metrics
    errors = [line for line in metrics.splitlines() if "opensage_invocation_errors_total{" in line]
    assert any('kind="4xx"' in line for line in errors)

    # Captured requests land per variant and hour in the artifact store.
    capture = model_server.data_dir / "artifacts" / "endpoints" / "reg-ep" / "data-capture"
    deadline = time.monotonic() + 10
    while not list(capture.glob("AllTraffic/*/*/*/*/*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)
    records = [
        json.loads(line)
        for path in capture.glob("AllTraffic/*/*/*/*/*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert any(r["captureData"]["endpointInput"]["data"] == "1,2,3" for r in records)

    # Blue/green: a second variant with a quarter of the traffic, addressable by name.
    code, _, err = run(url, "model", "approve", "reg", "3")
    assert code == 0, err
    code, out, err = run(
        url, "endpoint", "update", "reg-ep", "--variant", "blue=reg:1:3",
        "--variant", "green=reg:3:1",
    )  # fmt: skip
    assert code == 0, err
    assert "Endpoint reg-ep is InService" in out
    assert "75%" in next(line for line in out.splitlines() if "blue" in line)
    assert "25%" in next(line for line in out.splitlines() if "green" in line)
    assert float(invoke(url, "reg-ep", "-d", "1,2,3", "--variant", "green")) == 12.0
    assert float(invoke(url, "reg-ep", "-d", "1,2,3", "--variant", "blue")) == prediction

    assert "reg v2 is PendingManualApproval" in fails(
        url, "endpoint", "update", "reg-ep", "--model", "reg:2"
    )
    code, out, err = run(url, "endpoint", "update", "reg-ep", "--instances", "2", "--no-capture",
                         "--json")  # fmt: skip
    assert code == 0, err
    rescaled = json.loads(out)
    assert [(v["name"], v["model_version"], v["instance_count"]) for v in rescaled["variants"]] == [
        ("blue", 1, 2),
        ("green", 3, 2),
    ]
    assert rescaled["data_capture"]["enabled"] is False

    # A model that cannot load: the update is rolled back, a new endpoint fails.
    broken = write_model(tmp_path / "broken.tar.gz", BROKEN)
    code, _, err = run(url, "model", "register", "reg", "--source", str(broken), "--approve")
    assert code == 0, err
    code, out, _ = run(url, "endpoint", "update", "reg-ep", "--model", "reg:4")
    assert code == 1
    assert "the update failed and was rolled back" in out and "this model cannot load" in out
    assert (
        float(invoke(url, "reg-ep", "-d", "1,2,3", "--variant", "green")) == 12.0
    )  # still serving
    code, out, _ = run(url, "endpoint", "create", "broken-ep", "--model", "reg:4")
    assert code == 1
    assert "Endpoint broken-ep is Failed" in out and "this model cannot load" in out

    assert "deployed on endpoint(s) ['reg-ep']" in fails(
        url, "model", "delete", "reg", "--version", "1", "--yes"
    )

    code, _, _ = run(url, "endpoint", "delete", "reg-ep", input="n\n")
    assert code == 1
    for name in ("reg-ep", "broken-ep"):
        code, out, err = run(url, "endpoint", "delete", name, "--yes")
        assert code == 0, err
        assert f"Deleted endpoint {name}" in out
    assert "endpoint 'reg-ep' does not exist" in fails(url, "endpoint", "show", "reg-ep")
    assert "endpoint 'reg-ep' does not exist" in fails(
        url, "endpoint", "invoke", "reg-ep", "-d", "1"
    )
    code, out, _ = run(url, "endpoint", "list", "--json")
    assert json.loads(out) == []


def test_create_without_waiting(model_server: ServerProcess) -> None:
    url = model_server.url
    code, _, err = run(
        url, "model", "register", "quick", "--training-job", TRAINED_JOB, "--approve"
    )
    assert code == 0, err
    code, out, err = run(url, "endpoint", "create", "quick-ep", "--model", "quick", "--no-wait",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "Creating"
    deadline = time.monotonic() + 60
    while status_of(url, "quick-ep") != "InService":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert len(invoke(url, "quick-ep", "-d", "1,2,3\n4,5,6").split()) == 2
    code, _, err = run(url, "endpoint", "delete", "quick-ep", "--yes")
    assert code == 0, err
