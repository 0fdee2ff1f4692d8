"""``opensage model ...`` against a real server: register, approve, reject, inspect, delete."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from opensage.cli import app
from tests.cli.conftest import TRAINED_JOB
from tests.conftest import ServerProcess

runner = CliRunner()

INFERENCE = """
import numpy as np

def model_fn(model_dir):
    return 2.0

def predict_fn(data, model):
    return np.asarray(data).sum(axis=1) * model
"""


def run(server: ServerProcess, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", server.url, *args], input=input, env={"COLUMNS": "200"})
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def write_archive(path: Path, files: dict[str, str]) -> Path:
    """A .tar.gz holding ``files`` (name → text)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def test_register_review_and_delete(model_server: ServerProcess, tmp_path: Path) -> None:
    code, out, err = run(
        model_server, "model", "register", "reg", "--training-job", TRAINED_JOB,
        "--description", "first try",
    )  # fmt: skip
    assert code == 0, err
    assert "Registered reg version 1 (PendingManualApproval)" in out
    assert "validation:rmse = " in out

    code, out, err = run(
        model_server, "model", "register", "reg", "--training-job", TRAINED_JOB, "--approve",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    second = json.loads(out)
    assert (second["version"], second["approval_status"]) == (2, "Approved")
    assert second["training_job"] == TRAINED_JOB and second["algorithm"] == "xgboost"

    code, out, _ = run(model_server, "model", "list", "--name-contains", "reg")
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith("reg "))
    assert " 2 " in row
    code, out, _ = run(model_server, "model", "list", "--json", "--name-contains", "reg")
    assert [(g["name"], g["latest_version"]) for g in json.loads(out)] == [("reg", 2)]

    code, out, _ = run(model_server, "model", "versions", "reg")
    assert code == 0
    header = next(line for line in out.splitlines() if "approval" in line)
    assert all(c in header for c in ("version", "algorithm", "metrics", "training job"))
    rows = [line for line in out.splitlines() if TRAINED_JOB in line]
    assert len(rows) == 2
    assert "Approved" in rows[0] and "PendingManualApproval" in rows[1]  # newest first
    assert "xgboost" in rows[0] and "validation:rmse=" in rows[0]

    code, out, _ = run(model_server, "model", "show", "reg")  # the newest version
    assert code == 0
    assert "reg version 2: Approved" in out
    assert "a, b, c" in out and "Lineage" in out and "hyperparameters" in out
    code, out, _ = run(model_server, "model", "show", "reg", "--version", "1", "--json")
    first = json.loads(out)
    assert first["description"] == "first try" and first["feature_names"] == ["a", "b", "c"]
    assert first["lineage"]["training_job"] == TRAINED_JOB
    assert first["lineage"]["hyperparameters"]["num_round"] == "5"

    code, out, err = run(model_server, "model", "approve", "reg", "1")
    assert code == 0, err
    assert "reg version 1: Approved" in out
    code, out, err = run(model_server, "model", "reject", "reg", "1", "--description", "worse")
    assert code == 0, err
    assert "reg version 1: Rejected" in out
    code, out, _ = run(model_server, "model", "show", "reg", "--version", "1", "--json")
    assert json.loads(out)["approval_status"] == "Rejected"
    assert json.loads(out)["description"] == "worse"

    # Model files of one's own: uploaded as a .tar.gz, served by code/inference.py.
    archive = write_archive(tmp_path / "doubler.tar.gz", {"code/inference.py": INFERENCE})
    code, out, err = run(model_server, "model", "register", "reg", "--source", str(archive))
    assert code == 0, err
    assert "Registered reg version 3 (PendingManualApproval)" in out
    code, out, _ = run(model_server, "model", "show", "reg", "--version", "3", "--json")
    third = json.loads(out)
    assert third["lineage"] == {"source": "upload", "filename": "doubler.tar.gz"}
    assert third["training_job"] is None and third["metrics"] == {}

    code, out, err = run(model_server, "model", "delete", "reg", "--version", "3", "--yes")
    assert code == 0, err
    assert "Deleted reg version 3" in out
    code, out, _ = run(model_server, "model", "versions", "reg", "--json")
    assert [v["version"] for v in json.loads(out)] == [2, 1]

    code, _, _ = run(model_server, "model", "delete", "reg", input="n\n")
    assert code == 1
    code, out, _ = run(model_server, "model", "list", "--json", "--name-contains", "reg")
    assert len(json.loads(out)) == 1  # not confirmed: still there
    code, out, err = run(model_server, "model", "delete", "reg", "--yes")
    assert code == 0, err
    assert "Deleted model group reg" in out
    code, _, err = run(model_server, "model", "versions", "reg")
    assert code == 1 and "model group 'reg' does not exist" in err


def test_register_errors_are_one_line(model_server: ServerProcess, tmp_path: Path) -> None:
    def fails(*args: str) -> str:
        code, _, err = run(model_server, "model", *args)
        assert code == 1 and err.splitlines()[-1].startswith("Error: "), err
        return err.splitlines()[-1]  # after the upload's progress bar, if any

    assert "give --training-job JOB or --source PATH.tar.gz" in fails("register", "bad")
    archive = write_archive(tmp_path / "m.tar.gz", {"code/inference.py": INFERENCE})
    both = fails("register", "bad", "--training-job", TRAINED_JOB, "--source", str(archive))
    assert "give --training-job JOB or --source PATH.tar.gz" in both
    assert "training job 'nope' does not exist" in fails(
        "register", "bad", "--training-job", "nope"
    )
    assert "no such file: /no/such.tar.gz" in fails(
        "register", "bad", "--source", "/no/such.tar.gz"
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert "must be a .tar.gz archive" in fails("register", "bad", "--source", str(notes))
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not gzip at all")
    assert "cannot read the model archive" in fails("register", "bad", "--source", str(broken))
    empty = write_archive(tmp_path / "empty.tar.gz", {"README": "no model here"})
    assert "could not be served" in fails("register", "bad", "--source", str(empty))
    assert "not a valid name" in fails("register", "a_b", "--training-job", TRAINED_JOB)

    assert "model group 'nope' does not exist" in fails("show", "nope")
    assert "model group 'nope' does not exist" in fails("approve", "nope", "1")
    _, out, _ = run(model_server, "model", "list", "--json", "--name-contains", "bad")
    assert json.loads(out) == []  # nothing half-registered
