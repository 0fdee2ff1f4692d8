"""The README's and docs' examples run, and the API reference matches the app's routes."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from opensage.cli import app as cli_app
from tests.conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "exam_scores"))

from data import write_csv  # noqa: E402


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


@pytest.fixture
def students_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_csv(tmp_path / "students.csv", n=500)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_sdk_example_runs(
    running_server: ServerProcess, students_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENSAGE_URL", running_server.url)
    scope: dict[str, object] = {}
    for code in _blocks(ROOT / "README.md", "python"):  # in order, as a reader runs them
        exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["train"]) == 400  # type: ignore[arg-type]
    job = scope["job"]
    assert job.status.value == "Completed"  # type: ignore[attr-defined]
    assert job.final_metrics["validation:rmse"] < 100  # type: ignore[attr-defined]
    search = scope["search"]
    assert search.status.value == "Completed"  # type: ignore[attr-defined]
    assert search.best_trial.objective_value < 100  # type: ignore[attr-defined]
    assert scope["best"].name.startswith("students-search-")  # type: ignore[attr-defined]
    assert scope["version"].approval_status == "Approved"  # type: ignore[attr-defined]
    predictions: list[float] = scope["predictions"]  # type: ignore[assignment]
    assert len(predictions) == 5 and all(100 < p < 1100 for p in predictions)
    batch = scope["batch"]
    assert batch.status.value == "Completed"  # type: ignore[attr-defined]
    assert batch.progress.rows_done == len(scope["test"])  # type: ignore[attr-defined,arg-type]
    assert scope["scored"].output_dataset == "students-scored"  # type: ignore[attr-defined]


@pytest.mark.parametrize("document", ["README.md", "docs/cli.md"])
def test_cli_examples_run(running_server: ServerProcess, students_dir: Path, document: str) -> None:
    runner = CliRunner()
    commands = [
        line.split("#")[0].strip()
        for block in _blocks(ROOT / document, "console")
        for line in block.splitlines()
        if line.startswith("opensage ") and not line.startswith("opensage up")
    ]
    assert len(commands) >= 4
    for command in commands:
        result = runner.invoke(cli_app, ["--url", running_server.url, *shlex.split(command)[1:]])
        assert result.exit_code == 0, f"{command}: {result.stderr}"


def test_api_reference_lists_exactly_the_routes(http: TestClient) -> None:
    documented = set(
        re.findall(
            r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)`",
            (ROOT / "docs/api.md").read_text(),
            re.M,
        )
    )
    spec = http.get("/openapi.json").json()
    served = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert documented == served


def _command_paths(command: object, prefix: str = "opensage") -> list[str]:
    children = getattr(command, "commands", None)
    if not children:
        return [prefix]
    return [
        p for name, child in children.items() for p in _command_paths(child, f"{prefix} {name}")
    ]


def test_cli_reference_lists_every_command() -> None:
    import typer.main

    text = (ROOT / "docs/cli.md").read_text()
    paths = _command_paths(typer.main.get_command(cli_app))
    assert "opensage dataset create" in paths and "opensage up" in paths
    missing = [p for p in paths if f"`{p}" not in text]
    assert missing == []
