"""The ``opensage`` CLI against a real server process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opensage import __version__
from opensage.cli import app
from tests.conftest import ServerProcess, free_port

runner = CliRunner()


def run(server: ServerProcess, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", server.url, *args], input=input, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def students_csv(tmp_path: Path) -> Path:
    path = tmp_path / "students.csv"
    pd.DataFrame(
        {
            "hours": [10.5, 20.0, 30.25, 40.0, 12.0, 8.0, 33.0, 25.0, 19.0, 5.0],
            "passed": ["no", "yes", "yes", "yes", "no", "no", "yes", "yes", "no", "no"],
        }
    ).to_csv(path, index=False)
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"opensage {__version__}"


def test_dataset_lifecycle(running_server: ServerProcess, students_csv: Path) -> None:
    code, out, err = run(
        running_server,
        "dataset", "create", str(students_csv), "--name", "students", "--label", "passed",
        "--split", "train=0.6", "--split", "test=0.4", "--seed", "3",
    )  # fmt: skip
    assert code == 0, err
    assert "Created dataset students version 1: 10 rows, 2 columns" in out
    assert "stratified" in out and "train: 6" in out
    assert "uploading students.csv" in err  # the progress bar

    code, out, _ = run(running_server, "dataset", "list")
    assert code == 0 and "students" in out and "passed" in out

    code, out, _ = run(running_server, "dataset", "list", "--json")
    listed = json.loads(out)
    assert [d["name"] for d in listed] == ["students"]
    assert listed[0]["latest"]["num_rows"] == 10

    code, out, _ = run(running_server, "dataset", "show", "students", "--json")
    shown = json.loads(out)
    assert shown["label"] == "passed"
    assert [c["name"] for c in shown["columns"]] == ["hours", "passed"]

    code, out, _ = run(running_server, "dataset", "show", "students")
    assert code == 0 and "hours" in out and "float" in out

    code, out, _ = run(running_server, "dataset", "stats", "students")
    assert code == 0 and "20.27" in out  # mean hours (20.275)

    code, out, _ = run(running_server, "dataset", "stats", "students", "--json")
    stats = {c["name"]: c for c in json.loads(out)["columns"]}
    assert stats["hours"]["mean"] == pytest.approx(20.275)

    code, out, _ = run(running_server, "dataset", "versions", "students", "--json")
    assert [v["version"] for v in json.loads(out)] == [1]

    target = students_csv.parent / "test.parquet"
    code, out, _ = run(
        running_server, "dataset", "download", "students", "--split", "test", "-o", str(target)
    )
    assert code == 0 and len(pd.read_parquet(target)) == 4

    code, _, _ = run(running_server, "dataset", "delete", "students", input="n\n")
    assert code == 1
    code, out, _ = run(running_server, "dataset", "delete", "students", "--yes")
    assert code == 0 and "Deleted" in out
    code, out, _ = run(running_server, "dataset", "list", "--json")
    assert json.loads(out) == []


def test_errors_are_one_line_and_exit_non_zero(
    running_server: ServerProcess, students_csv: Path
) -> None:
    code, out, err = run(running_server, "dataset", "show", "nope")
    assert code == 1
    assert "Error: dataset 'nope' does not exist" in err
    assert "Traceback" not in out + err

    code, _, err = run(
        running_server, "dataset", "create", str(students_csv), "--name", "s", "--label", "x"
    )
    assert code == 1 and "label column 'x' is not in the data" in err

    code, _, err = run(running_server, "dataset", "create", "/no/such.csv", "--name", "s")
    assert code == 1 and "no such file" in err

    code, _, err = run(
        running_server, "dataset", "create", str(students_csv), "--name", "s", "--split", "train"
    )
    assert code == 1 and "NAME=VALUE" in err

    code, _, err = run(running_server, "dataset", "create", str(students_csv), "--name", "a/b")
    assert code == 1 and "not a valid name" in err


def test_unreachable_server_is_explained(students_csv: Path) -> None:
    result = runner.invoke(app, ["--url", f"http://127.0.0.1:{free_port()}", "dataset", "list"])
    assert result.exit_code == 1
    assert "cannot reach the OpenSage server" in result.stderr
    assert "opensage up" in result.stderr


def test_up_refuses_to_listen_beyond_loopback_without_auth(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "opensage", "up", "--host", "0.0.0.0", "--auth", "off"]
    result = subprocess.run(
        [*command, "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0 with auth off" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_reports_a_busy_port(running_server: ServerProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opensage", "up", "--port", str(running_server.port),
         "--data-dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Error:" in result.stderr and str(running_server.port) in result.stderr


def test_settings_come_from_environment(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "ignored")
    port = free_port()
    server.port = port
    server.extra_env = {"OPENSAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    server.start()
    try:
        assert (tmp_path / "env.db").exists()
    finally:
        server.stop()
