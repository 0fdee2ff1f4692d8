"""``opensage transform ...``: option parsing, and real batch transform jobs on a server:
created and followed, inspected, read, refused or failed with the reason, stopped and
deleted."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import opensage
from opensage.cli import app
from opensage.cli.output import CLIError
from opensage.cli.transform import parse_dataset
from tests.cli.conftest import FEATURES, TRAINED_JOB
from tests.conftest import ServerProcess, free_port

runner = CliRunner()

SLOW = """
import time
import numpy as np

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    time.sleep(0.05)
    return np.asarray(data).sum(axis=1)
"""


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


def write_model(path: Path, inference: str) -> Path:
    """A .tar.gz of model files served by ``code/inference.py``."""
    data = inference.encode()
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo("code/inference.py")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return path


def predictions(text: str) -> list[float]:
    return [float(line) for line in text.splitlines()]


# -- parsing ---------------------------------------------------------------------------
def test_dataset_forms() -> None:
    assert parse_dataset("reg") == ("reg", None)
    assert parse_dataset("reg:validation") == ("reg", "validation")
    for bad in ("reg:", ":train", ""):
        with pytest.raises(CLIError, match="--dataset expects NAME"):
            parse_dataset(bad)


def test_bad_options_stop_before_the_server(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    create = ["transform", "create", "t", "--model", "reg"]
    for args, message in [
        (create, "give --dataset NAME[:SPLIT] or --input URI"),
        ([*create, "--dataset", "reg", "--input", "x.csv"], "give --dataset NAME[:SPLIT] or"),
        ([*create, "--dataset", "reg:"], "--dataset expects NAME[:SPLIT], got 'reg:'"),
        ([*create, "--dataset", "reg", "--content-type", "text/csv"], "--content-type applies"),
        ([*create, "--input", "x.csv", "--dataset-version", "2"], "--dataset-version applies"),
        (
            [*create, "--input", "x.csv", "--content-type", "text/plain"],
            "--content-type must be one of text/csv, application/jsonlines",
        ),
        (
            [*create, "--dataset", "reg", "--output-dataset", "o", "--output-path", "p"],
            "give --output-dataset or --output-path, not both",
        ),
        (
            [*create, "--dataset", "reg", "--output-dataset", "o", "--accept", "text/csv"],
            "--accept applies to output files",
        ),
        ([*create, "--dataset", "reg", "--accept", "text/html"], "--accept must be one of"),
        (["transform", "create", "t", "--model", "reg:", "--dataset", "reg"], "--model expects"),
        (["transform", "create", "t", "--model", "reg", "--dataset", "r", "--tag", "x"], "--tag"),
        (["transform", "output", "t", "--file", "a", "--to", str(tmp_path)], "not both"),
    ]:
        code, _, err = run(nowhere, *args)
        assert code == 1, args
        assert message in err and "cannot reach" not in err, (args, err)


# -- real jobs -------------------------------------------------------------------------
def test_predict_inspect_and_read(model_server: ServerProcess, tmp_path: Path) -> None:
    url = model_server.url
    succeeds(url, "model", "register", "batch", "--training-job", TRAINED_JOB, "--approve")
    succeeds(url, "model", "register", "batch", "--training-job", TRAINED_JOB)  # v2: pending

    # A dataset split, followed with a live bar of rows, then summed up.
    code, out, err = run(
        url, "transform", "create", "scored", "--model", "batch", "--dataset", "reg:validation",
        "--batch-size", "7", "--tag", "team=cli",
    )  # fmt: skip
    assert code == 0, out + err
    assert "Submitted transform job scored: batch v1 over dataset reg v1 split validation" in out
    assert "scored: Completed in " in out
    assert "Rows: 40/40 predicted" in out
    assert "40/40 rows" in err  # the bar's last state
    scored = predictions(succeeds(url, "transform", "output", "scored"))
    assert len(scored) == 40

    # The same rows as a headerless CSV file: the same predictions, in input order.
    with opensage.Client(url) as client:
        rows = client.datasets.get("reg").to_pandas(split="validation")[FEATURES]
    source = tmp_path / "rows.csv"
    rows.to_csv(source, header=False, index=False)
    code, out, err = run(
        url, "transform", "create", "joined", "--model", "batch:1", "--input", str(source),
        "--join-input", "--accept", "application/jsonlines", "--output-path", "batch/joined",
        "--parallel", "2", "--json",
    )  # fmt: skip
    assert code == 0, out + err
    info = json.loads(out)
    assert info["status"] == "Completed" and info["progress"]["rows_done"] == 40
    assert info["input"]["files"] == 1 and info["output"]["path"] == "batch/joined"
    lines = [json.loads(line) for line in succeeds(url, "transform", "output", "joined").split()]
    assert [line["prediction"] for line in lines] == pytest.approx(scored)
    np.testing.assert_allclose([[line[f] for f in FEATURES] for line in lines], rows.to_numpy())

    out = succeeds(url, "transform", "show", "scored")
    assert "scored: Completed" in out and "team=cli" in out
    assert "dataset reg v1 split validation" in out
    assert "transform-jobs/scored/output (text/csv)" in out
    assert "reg-v1-validation.out" in next(line for line in out.splitlines() if ".out" in line)
    shown = json.loads(succeeds(url, "transform", "show", "scored", "--json"))
    assert shown["model"] == {"model_group": "batch", "model_version": 1}
    assert shown["tags"] == {"team": "cli"} and shown["batch_size"] == 7

    listed = succeeds(url, "transform", "list")
    row = next(line for line in listed.splitlines() if "scored" in line)
    assert "Completed" in row and "batch v1" in row and "40/40" in row
    assert [j["name"] for j in json.loads(succeeds(url, "transform", "list", "--json"))] == [
        "joined",
        "scored",
    ]
    filtered = succeeds(url, "transform", "list", "--name-contains", "join", "--json")
    assert [j["name"] for j in json.loads(filtered)] == ["joined"]

    out = succeeds(url, "transform", "output", "scored", "--to", str(tmp_path / "out"))
    assert "Downloaded 1 file(s)" in out
    saved = tmp_path / "out" / "reg-v1-validation.out"
    assert predictions(saved.read_text()) == scored
    assert "has no output file 'nope.out'" in fails(
        url, "transform", "output", "scored", "--file", "nope.out"
    )

    # Into a new dataset, with the input's columns (the label stays the label).
    code, out, err = run(
        url, "transform", "create", "to-dataset", "--model", "batch", "--dataset", "reg",
        "--dataset-version", "1", "--join-input", "--output-dataset", "reg-scored",
    )  # fmt: skip
    assert code == 0, out + err
    assert "Output: dataset reg-scored v1" in out
    with opensage.Client(url) as client:
        frame = client.datasets.get("reg-scored").to_pandas()
    assert list(frame.columns) == [*FEATURES, "y", "prediction"] and len(frame) == 200
    assert "wrote dataset 'reg-scored'; read it with `opensage dataset download" in fails(
        url, "transform", "output", "to-dataset"
    )


def test_bad_input_is_refused_or_fails_with_the_reason(
    model_server: ServerProcess, tmp_path: Path
) -> None:
    url = model_server.url
    succeeds(url, "model", "register", "strict", "--training-job", TRAINED_JOB, "--approve")
    succeeds(url, "model", "register", "strict", "--training-job", TRAINED_JOB)  # v2: pending
    narrow = tmp_path / "narrow.csv"
    pd.DataFrame(np.ones((3, 2))).to_csv(narrow, header=False, index=False)

    # Refused at submit, naming the problem: no job is left behind.
    for args, message in [
        (["--input", str(narrow)], "narrow.csv has 2 values per row, but the model takes 3"),
        (["--input", str(tmp_path / "none.csv")], "no such file or folder"),
        (["--dataset", "nope"], "dataset 'nope' does not exist"),
        (["--dataset", "reg:test"], "has no split 'test'"),
        (["--dataset", "reg", "--output-dataset", "reg"], "dataset 'reg' already exists"),
        (["--dataset", "reg", "--output-path", "models/x"], "models/ belongs to the platform"),
    ]:
        err = fails(url, "transform", "create", "refused", "--model", "strict", *args)
        assert message in err, (args, err)
    assert "strict v2 is PendingManualApproval; approve it, or submit with force" in fails(
        url, "transform", "create", "refused", "--model", "strict:2", "--dataset", "reg"
    )
    assert "transform job 'refused' does not exist" in fails(url, "transform", "show", "refused")

    # A bad value deep in the file: the job fails, naming the file, row and feature.
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n7,lots,9\n")
    code, out, err = run(
        url, "transform", "create", "bad-value", "--model", "strict", "--input", str(bad)
    )
    assert code == 1, out + err
    assert "bad-value: Failed" in out
    assert "Reason: bad.csv, row 3: feature 'b' is 'lots', not a number" in out
    assert "transform job 'bad-value' is Failed; its output is there once it has completed" in (
        fails(url, "transform", "output", "bad-value")
    )

    # A forced pending version runs; --json still exits 1 when the job fails.
    code, out, _ = run(
        url, "transform", "create", "bad-forced", "--model", "strict:2", "--force",
        "--input", str(bad), "--json",
    )  # fmt: skip
    assert code == 1
    failed = json.loads(out)
    assert failed["status"] == "Failed" and failed["force"] is True
    assert failed["failure_reason"] == "bad.csv, row 3: feature 'b' is 'lots', not a number"


def test_stop_and_delete(model_server: ServerProcess, tmp_path: Path) -> None:
    url = model_server.url
    succeeds(
        url, "model", "register", "slow", "--approve",
        "--source", str(write_model(tmp_path / "slow.tar.gz", SLOW)),
    )  # fmt: skip
    rows = tmp_path / "rows.csv"
    pd.DataFrame(np.ones((400, 2))).to_csv(rows, header=False, index=False)
    out = succeeds(
        url, "transform", "create", "slow-job", "--model", "slow", "--input", str(rows),
        "--batch-size", "1", "--output-path", "batch/slow", "--no-wait",
    )  # fmt: skip
    assert "Submitted transform job slow-job (InProgress)" in out
    assert "transform job 'slow-job' is still InProgress; stop it first" in fails(
        url, "transform", "delete", "slow-job"
    )

    assert "slow-job: Stopped" in succeeds(url, "transform", "stop", "slow-job")
    shown = json.loads(succeeds(url, "transform", "show", "slow-job", "--json"))
    assert shown["status"] == "Stopped" and shown["failure_reason"] in (
        "stopped by request",
        "stopped before it started",
    )
    assert shown["progress"]["rows_done"] < 400
    assert "has already ended (Stopped)" in fails(url, "transform", "stop", "slow-job")
    assert "is Stopped; its output is there once it has completed" in fails(
        url, "transform", "output", "slow-job"
    )

    assert "Deleted transform job slow-job" in succeeds(url, "transform", "delete", "slow-job")
    assert "transform job 'slow-job' does not exist" in fails(url, "transform", "show", "slow-job")
    assert "does not exist" in fails(url, "transform", "delete", "slow-job")
