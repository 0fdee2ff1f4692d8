"""``opensage train`` and ``opensage job ...`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from opensage.cli import app
from opensage.cli.training import sparkline
from tests.conftest import ServerProcess
from tests.training.conftest import write_script

runner = CliRunner()


def run(server: ServerProcess, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", server.url, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_train_follow_show_metrics_and_list(running_server: ServerProcess, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 2)), columns=["x1", "x2"])
    frame["y"] = 2 * frame["x1"] + rng.normal(0, 0.1, 300)
    frame.to_csv(tmp_path / "d.csv", index=False)
    splits = ["--split", "train=0.8", "--split", "validation=0.2"]
    code, _, err = run(
        running_server,
        "dataset",
        "create",
        str(tmp_path / "d.csv"),
        "-n",
        "d",
        "--label",
        "y",
        *splits,
    )
    assert code == 0, err

    code, out, err = run(running_server, "train", "--name", "cli-xgb", "--algorithm", "xgboost",
                         "--channel", "train=d:train", "--channel", "validation=d:validation",
                         "--hp", "num_round=15", "--hp", "max_depth=3")  # fmt: skip
    assert code == 0, err
    assert "cli-xgb: Completed" in out
    assert "validation:rmse" in out

    code, out, _ = run(running_server, "job", "metrics", "cli-xgb")
    assert code == 0 and "validation:rmse" in out and "15" in out

    code, out, _ = run(running_server, "job", "show", "cli-xgb", "--json")
    shown = json.loads(out)
    assert shown["status"] == "Completed" and shown["hyperparameters"]["num_round"] == "15"

    code, out, _ = run(running_server, "job", "list", "--json")
    assert [j["name"] for j in json.loads(out)] == ["cli-xgb"]

    script = write_script(tmp_path / "s", "print('hello from the job')\nraise SystemExit(3)\n")
    code, out, _ = run(running_server, "train", "--name", "cli-fail", "--script", str(script))
    assert code == 1
    assert "hello from the job" in out and "Failed" in out and "status 3" in out

    code, out, _ = run(running_server, "job", "logs", "cli-fail")
    assert code == 0 and "hello from the job" in out

    code, out, _ = run(running_server, "job", "list", "--status", "Failed")
    assert "cli-fail" in out and "cli-xgb" not in out

    code, out, _ = run(running_server, "job", "delete", "cli-fail")
    assert code == 0
    code, _, err = run(running_server, "job", "show", "cli-fail")
    assert code == 1 and "does not exist" in err


def test_train_usage_errors(running_server: ServerProcess) -> None:
    code, _, err = run(running_server, "train", "--name", "x")
    assert code == 1 and "--algorithm" in err
    code, _, err = run(running_server, "train", "--name", "x", "--algorithm", "xgboost",
                       "--hp", "num_round")  # fmt: skip
    assert code == 1 and "NAME=VALUE" in err
    code, _, err = run(running_server, "train", "--name", "x", "--algorithm", "nope")
    assert code == 1 and "nope" in err


def test_sparkline_shape() -> None:
    assert sparkline([1.0, 2.0, 3.0]) == "▁▄█"
    assert sparkline([5.0, 5.0]) == "▁▁"
    assert len(sparkline([float(i) for i in range(100)], width=30)) == 30
