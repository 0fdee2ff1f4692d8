"""Bad transform jobs: refused with a 4xx naming the field when it can be known at submit,
else failed with a reason naming the file, row and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.transform.conftest import Transformer, custom_model, write_csv

ROUTE = "/api/v1/transform-jobs"


def _body(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "model": {"model_group": "exam"},
        "input": {"dataset": "exam"},
    }
    body.update(changes)
    return body


def _refused(transformer: Transformer, body: dict[str, Any], status: int) -> dict[str, Any]:
    response = transformer.http.post(ROUTE, json=body)
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    with pytest.raises(Exception, match="does not exist"):
        transformer.client.transform_jobs.get(body["name"])
    return error


def test_the_model_must_exist_and_be_approved(transformer: Transformer) -> None:
    error = _refused(transformer, _body("no-group", model={"model_group": "nope"}), 422)
    assert error["field"] == "model.model_group" and "nope" in error["message"]
    error = _refused(
        transformer, _body("no-version", model={"model_group": "exam", "model_version": 9}), 422
    )
    assert error["field"] == "model.model_version" and "version 9" in error["message"]
    pending = _body("pending", model={"model_group": "exam", "model_version": 2})
    error = _refused(transformer, pending, 422)
    assert "PendingManualApproval" in error["message"] and "force" in error["message"]
    forced = transformer.http.post(ROUTE, json={**pending, "force": True})
    assert forced.status_code == 201, forced.text
    assert forced.json()["model"] == {"model_group": "exam", "model_version": 2}


def test_the_input_must_exist_and_hold_the_features(
    transformer: Transformer, tmp_path: Path
) -> None:
    client = transformer.client
    error = _refused(transformer, _body("no-data", input={"dataset": "nope"}), 422)
    assert error["field"] == "input.dataset"
    error = _refused(transformer, _body("no-split", input={"dataset": "exam", "split": "x"}), 422)
    assert error["field"] == "input.split" and "validation" in error["message"]

    other = pd.DataFrame({"experience": [1.0, 2.0], "effort": [3.0, 4.0], "noise": [0.0, 1.0]})
    client.datasets.create(other, name="renamed")
    error = _refused(transformer, _body("renamed", input={"dataset": "renamed"}), 422)
    assert "['hours']" in error["message"]

    texts = pd.DataFrame({"experience": [1.0, 2.0], "hours": ["a", "b"], "noise": [0.0, 1.0]})
    client.datasets.create(texts, name="texts")
    error = _refused(transformer, _body("texts", input={"dataset": "texts"}), 422)
    assert "feature 'hours' is string" in error["message"]

    narrow = write_csv(tmp_path / "narrow.csv", np.ones((4, 2)))
    error = _refused(transformer, _body("narrow", input={"uri": str(narrow)}), 422)
    assert "2 values per row" in error["message"] and "3 features" in error["message"]

    jsonl = tmp_path / "wrong.jsonl"
    jsonl.write_text('{"experience": 1, "hours": 2}\n')
    body = _body("wrong-keys", input={"uri": str(jsonl), "content_type": "application/jsonlines"})
    error = _refused(transformer, body, 422)
    assert "['noise']" in error["message"]

    error = _refused(transformer, _body("nowhere", input={"uri": str(tmp_path / "nope")}), 422)
    assert error["field"] == "input.uri"
    error = _refused(transformer, _body("relative", input={"uri": "data/x.csv"}), 422)
    assert error["field"] == "input.uri"


def test_the_output_and_settings_are_checked(transformer: Transformer) -> None:
    error = _refused(transformer, _body("taken", output={"dataset": "exam"}), 409)
    assert error["field"] == "output.dataset"
    error = _refused(transformer, _body("reserved", output={"path": "models/exam/x"}), 422)
    assert error["field"] == "output.path"
    error = _refused(transformer, _body("escape", output={"path": "../etc"}), 422)
    assert error["field"] == "output.path"
    error = _refused(transformer, _body("greedy", max_parallel=64), 422)
    assert error["field"] == "max_parallel"
    _refused(transformer, _body("zero", batch_size=0), 422)
    _refused(transformer, _body("both", output={"dataset": "d", "path": "p"}), 422)
    _refused(transformer, _body("Bad_Name"), 422)
    _refused(transformer, _body("typo", join_source="output"), 422)

    first = transformer.http.post(ROUTE, json=_body("twice", output={"path": "batch/twice"}))
    assert first.status_code == 201, first.text
    transformer.client.transform_jobs.get("twice").wait(timeout=60)
    again = transformer.http.post(ROUTE, json=_body("twice"))
    assert again.status_code == 409
    same_path = _body("same-path", output={"path": "batch/twice"})
    error = _refused(transformer, same_path, 409)
    assert error["field"] == "output.path"


def test_a_bad_value_fails_the_job_naming_file_row_and_column(
    transformer: Transformer, tmp_path: Path
) -> None:
    lines = [f"{i},{i % 7},0.5" for i in range(120)]
    lines[56] = "3,lots,0.5"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "scores.csv").write_text("\n".join(lines) + "\n")
    job = transformer.client.transform_jobs.create(
        "bad-value", model_group="exam", uri=str(tmp_path / "bad"), batch_size=10
    ).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason == "scores.csv, row 57: feature 'hours' is 'lots', not a number"
    assert transformer.platform.store.list(f"transform-jobs/{job.name}") == []

    lines[56] = "3,1"
    (tmp_path / "short.csv").write_text("\n".join(lines) + "\n")
    job = transformer.client.transform_jobs.create(
        "short-row", model_group="exam", uri=str(tmp_path / "short.csv")
    ).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("short.csv, row 57: has 2 values; the model takes 3")

    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"experience": 1, "hours": 2, "noise": 3}\n' * 5 + '{"experience": "x"}\n')
    job = transformer.client.transform_jobs.create(
        "bad-json", model_group="exam", uri=str(jsonl), content_type="application/jsonlines"
    ).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason == "bad.jsonl, row 6: feature 'experience' is 'x', not a number"


def test_a_model_that_answers_wrongly_fails_the_job(
    transformer: Transformer, tmp_path: Path
) -> None:
    custom_model(transformer.client, tmp_path, "short-answers", "return data[:-1, 0]\n")
    path = write_csv(tmp_path / "rows.csv", np.ones((30, 4)))
    job = transformer.client.transform_jobs.create(
        "short-answers", model_group="short-answers", uri=str(path), batch_size=10
    ).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason == "rows.csv, rows 1-10: the model returned 9 predictions for 10 rows"

    custom_model(transformer.client, tmp_path, "raises", "raise ValueError('boom')\n")
    job = transformer.client.transform_jobs.create(
        "raises", model_group="raises", uri=str(path)
    ).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason == "the model failed on rows.csv, rows 1-30: ValueError: boom"
