"""``opensage tune`` and ``opensage tuning ...``: range parsing, and a real search end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opensage.cli import app
from opensage.cli.output import CLIError
from opensage.cli.tuning import parse_range
from opensage.tuning.schemas import CategoricalRange, ContinuousRange, IntegerRange
from tests.conftest import ServerProcess, free_port
from tests.training.conftest import write_script

runner = CliRunner()

# The objective is known in closed form, so the test can check each trial ran with the
# hyperparameters the search gave it (read from SM_HPS, as SageMaker passes them).
OBJECTIVE_SCRIPT = """
import json, os

hps = json.loads(os.environ["SM_HPS"])
x, n = float(hps["x"]), int(hps["n"])
penalty = 0.5 if hps["kind"] == "b" else 0.0
print(f"loss={10 + x:.6f}")
print(f"loss={(x - 0.3) ** 2 + (n - 2) ** 2 + penalty:.6f}")
"""


def expected_loss(hps: dict[str, object]) -> float:
    x, n = float(hps["x"]), int(hps["n"])  # type: ignore[arg-type]
    return (x - 0.3) ** 2 + (n - 2) ** 2 + (0.5 if hps["kind"] == "b" else 0.0)


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--url", url, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("item", "name", "expected"),
    [
        ("eta=0.01..0.3", "eta", ContinuousRange(min=0.01, max=0.3)),
        ("eta=1e-4..1e-1:log", "eta", ContinuousRange(min=1e-4, max=0.1, scaling="logarithmic")),
        ("lr=0..1:linear", "lr", IntegerRange(min=0, max=1, scaling="linear")),
        ("max_depth=3..10", "max_depth", IntegerRange(min=3, max=10)),
        ("layers=1..64:log", "layers", IntegerRange(min=1, max=64, scaling="logarithmic")),
        ("gamma=-1.5..2", "gamma", ContinuousRange(min=-1.5, max=2.0)),
        (
            "momentum=0.9..0.999:reverse_log",
            "momentum",
            ContinuousRange(min=0.9, max=0.999, scaling="reverse_logarithmic"),
        ),
        ("alpha=0.1..2.0:auto", "alpha", ContinuousRange(min=0.1, max=2.0, scaling="auto")),
        ("booster=gbtree|dart", "booster", CategoricalRange(values=["gbtree", "dart"])),
        ("depth=2|4|8", "depth", CategoricalRange(values=["2", "4", "8"])),
    ],
)
def test_range_forms(item: str, name: str, expected: object) -> None:
    assert parse_range(item) == (name, expected)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("eta", "--range expects NAME=LOW..HIGH[:SCALING] or NAME=A|B|..., got 'eta'"),
        ("eta=0.3", "got 'eta=0.3'"),
        ("=1..2", "got '=1..2'"),
        ("eta=", "got 'eta='"),
        ("eta=0.3..0.01", "--range 'eta=0.3..0.01': min (0.3) is greater than max (0.01)"),
        ("eta=low..high", "--range 'eta=low..high': LOW and HIGH must be numbers"),
        ("eta=0.1..", "LOW and HIGH must be numbers"),
        ("eta=0.01..0.3:cubic", "unknown scaling 'cubic'; use log, linear, reverse_log or auto"),
        ("eta=0..1.0:log", "logarithmic scaling needs min > 0"),
        ("eta=0.5..1.5:reverse_log", "reverse_logarithmic scaling needs 0 <= min <= max < 1"),
        ("eta=0.1..inf", "min and max must be finite numbers"),
        ("booster=gbtree||dart", "--range 'booster=gbtree||dart': a categorical value is empty"),
        ("booster=gbtree|gbtree", "categorical values must be distinct"),
    ],
)
def test_bad_ranges_are_named(item: str, message: str) -> None:
    with pytest.raises(CLIError) as raised:
        parse_range(item)
    assert message in str(raised.value)


def test_a_bad_range_stops_the_command_before_it_reaches_the_server(tmp_path: Path) -> None:
    script = write_script(tmp_path, OBJECTIVE_SCRIPT)
    nowhere = f"http://127.0.0.1:{free_port()}"
    common = ["tune", "t", "--script", str(script), "--objective", "loss", "--max-trials", "2"]
    code, out, err = run(nowhere, *common, "--range", "eta=0.3..0.01:log")
    assert code == 1
    assert "Error: --range 'eta=0.3..0.01:log': min (0.3) is greater than max (0.01)" in err
    assert "Traceback" not in out + err and "cannot reach" not in err

    code, _, err = run(nowhere, *common, "--range", "x=0..1", "--range", "x=2..3")
    assert code == 1 and "--range x is given twice" in err

    code, _, err = run(nowhere, *common)
    assert code != 0 and "--range" in err  # at least one range is required


def test_tune_then_list_show_trials_importances_delete(
    running_server: ServerProcess, tmp_path: Path
) -> None:
    url = running_server.url
    script = write_script(tmp_path, OBJECTIVE_SCRIPT)
    code, out, err = run(
        url, "tune", "cli-search", "--script", str(script),
        "--metric", r"loss=loss=([0-9.]+)", "--objective", "loss",
        "--range", "x=0.0..1.0", "--range", "n=1..3", "--range", "kind=a|b",
        "--strategy", "random", "--max-trials", "4", "--parallel", "2", "--seed", "7",
        "--tag", "team=cli",
    )  # fmt: skip
    assert code == 0, out + err
    assert "Started tuning job cli-search: random search, 4 trials, 2 at a time" in out
    assert "cli-search: Completed" in out and "all 4 trials ran" in out
    assert "Trials: 4 of 4 finished — 4 completed, 0 failed" in out
    assert "4/4" in err  # the progress bar: finished trials out of max_trials

    code, out, _ = run(url, "tuning", "show", "cli-search", "--json")
    shown = json.loads(out)
    assert shown["status"] == "Completed" and shown["trial_counts"]["completed"] == 4
    assert shown["objective"] == {"metric": "loss", "type": "minimize"}
    assert {k: v["type"] for k, v in shown["parameter_ranges"].items()} == {
        "x": "continuous",
        "n": "integer",
        "kind": "categorical",
    }
    assert shown["tags"] == {"team": "cli"}
    best = shown["best_trial"]
    assert best["objective_value"] == pytest.approx(expected_loss(best["hyperparameters"]))

    code, out, _ = run(url, "tuning", "trials", "cli-search", "--json")
    trials = json.loads(out)
    assert sorted(t["training_job_name"] for t in trials) == [
        f"cli-search-00{i}" for i in range(1, 5)
    ]
    losses = [t["objective_value"] for t in trials]
    assert losses == sorted(losses)  # best first
    for trial in trials:
        hps = trial["hyperparameters"]
        assert 0.0 <= hps["x"] <= 1.0 and hps["n"] in (1, 2, 3) and hps["kind"] in ("a", "b")
        assert trial["objective_value"] == pytest.approx(expected_loss(hps), abs=1e-5)
    assert trials[0]["number"] == best["number"]

    code, out, _ = run(url, "tuning", "trials", "cli-search")
    assert code == 0
    header = next(line for line in out.splitlines() if "training job" in line)
    assert all(column in header for column in ("loss", " x ", " n ", "kind"))
    rows = [line for line in out.splitlines() if "cli-search-00" in line]
    assert len(rows) == 4 and f"cli-search-{best['number']:03d}" in rows[0]

    code, out, _ = run(url, "tuning", "show", "cli-search")
    assert code == 0
    assert f"Best: trial {best['number']} (cli-search-{best['number']:03d}), loss = " in out
    assert "categorical" in out and "a | b" in out and "minimize loss" in out

    code, out, _ = run(url, "tuning", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if "cli-search" in line)
    assert "Completed" in row and "random" in row and "4/4" in row

    code, out, _ = run(url, "tuning", "list", "--json")
    assert [j["name"] for j in json.loads(out)] == ["cli-search"]

    code, out, _ = run(url, "tuning", "importances", "cli-search", "--json")
    importances = json.loads(out)
    assert set(importances) == {"x", "n", "kind"}
    assert sum(importances.values()) == pytest.approx(1.0)
    code, out, _ = run(url, "tuning", "importances", "cli-search")
    assert code == 0 and "kind" in out and "█" in out

    code, _, err = run(url, "tuning", "stop", "cli-search")
    assert code == 1 and "has already ended (Completed)" in err

    code, out, _ = run(url, "job", "list", "--json")
    assert len(json.loads(out)) == 4  # the trials are ordinary training jobs
    code, out, err = run(url, "tuning", "delete", "cli-search")
    assert code == 0, err
    assert "Deleted tuning job cli-search" in out
    code, _, err = run(url, "tuning", "show", "cli-search")
    assert code == 1 and "tuning job 'cli-search' does not exist" in err
    code, out, _ = run(url, "job", "list", "--json")
    assert json.loads(out) == []


def test_tune_maximize_until_target_and_stop(running_server: ServerProcess, tmp_path: Path) -> None:
    url = running_server.url
    score = write_script(tmp_path / "score", "print('score=0.9')\n")
    code, out, err = run(
        url, "tune", "cli-target", "--script", str(score),
        "--metric", r"score=score=([0-9.]+)", "--objective", "score", "--maximize",
        "--range", "c=1..5", "--max-trials", "4", "--target", "0.8", "--json",
    )  # fmt: skip
    assert code == 0, err
    ended = json.loads(out)  # --json prints only the final tuning job
    assert ended["status"] == "Completed" and ended["objective"]["type"] == "maximize"
    assert ended["completion_reason"] == "trial 1 reached the target objective value 0.8"
    assert ended["trial_counts"]["completed"] == 1

    slow = write_script(tmp_path / "slow", "import time\ntime.sleep(60)\n")
    code, out, err = run(
        url, "tune", "cli-stop", "--script", str(slow), "--objective", "loss",
        "--range", "c=a|b", "--max-trials", "3", "--no-wait",
    )  # fmt: skip
    assert code == 0, err
    assert "Started tuning job cli-stop" in out
    code, out, err = run(url, "tuning", "stop", "cli-stop")
    assert code == 0, err
    assert "cli-stop: Stopped" in out
    code, out, _ = run(url, "tuning", "show", "cli-stop")
    assert "cli-stop: Stopped" in out and "stopped by request" in out
    assert "No completed trial yet." in out
