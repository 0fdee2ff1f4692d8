"""``make demo``'s script runs the exam-score example end to end and exits when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "exam_scores" / "demo.py"
sys.path.insert(0, str(DEMO.parent))

from data import FEATURES, LABEL, make_students  # noqa: E402


def test_students_are_realistic_and_reproducible() -> None:
    students = make_students()
    assert list(students.columns) == [*FEATURES, LABEL]
    assert len(students) == 10_000
    assert students[LABEL].between(100, 1000).all()
    pd.testing.assert_frame_equal(students, make_students())
    # Scores rise with study time and experience, and carry noise.
    by_hours = students.groupby(
        pd.cut(students["study_hours"], [0, 15, 40, 80, 200]), observed=True
    )
    means = by_hours[LABEL].mean().tolist()
    assert means == sorted(means)
    for feature in FEATURES:
        assert students[feature].corr(students[LABEL]) > 0.2, feature
    assert students.groupby("practice_tests")[LABEL].std().min() > 20


def test_demo_runs_end_to_end_and_exits(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "demo-data"
    env = {**os.environ, "OPENSAGE_DEMO_EXIT": "1", "COLUMNS": "200"}
    command = [sys.executable, str(DEMO), "--port", str(port), "--data-dir", str(data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Uploaded the data through the SDK as dataset 'exam-scores'" in result.stdout
    assert "train 8,000, validation 1,000, test 1,000" in result.stdout
    assert "exam_score (label)" in result.stdout
    assert f"http://127.0.0.1:{port}/api/v1/datasets" in result.stdout
    rmse = float(result.stdout.split("validation RMSE:")[1].split()[0])
    assert 30 < rmse < 70  # the noise in the scores is ~45 points
    assert "submit → training code:" in result.stdout
    # The tuned regressor is at least as good as the untuned one.
    tuned_line = result.stdout.split("best validation RMSE:")[1]
    tuned = float(tuned_line.split()[0])
    untuned = float(tuned_line.split("vs untuned")[1].split(";")[0])
    assert untuned == pytest.approx(rmse, abs=0.06)
    assert tuned <= untuned + 0.5
    assert "20 trials in" in tuned_line
    # The best model is registered, approved, deployed, and scores a new student.
    assert "as model exam-score v1 and approved it" in result.stdout
    assert "endpoint exam-score serving v1" in result.stdout
    predicted = float(result.stdout.split("predicted score")[1].split()[0])
    assert 100 <= predicted <= 1000
    assert "students scored in" in result.stdout
    assert "10,000 students scored" in result.stdout
    monitored = result.stdout.split("7. Monitoring exam-score-monitor:")[1]
    assert "500 of them students who studied 3x as long -> CompletedWithViolations" in monitored
    drift_rows = {line.split()[1]: line for line in monitored.splitlines() if "│" in line}
    assert "yes" in drift_rows["study_hours"]
    assert "violation baseline_drift_check: 'study_hours' drifted" in monitored
    parquet_files = list(
        (data_dir / "artifacts" / "datasets" / "exam-scores").glob("*/data.parquet")
    )
    assert len(parquet_files) == 1 and pq.read_table(parquet_files[0]).num_rows == 10_000

    # Running it again reuses the platform's data instead of failing on the existing name.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already on the platform" in again.stdout
    assert "endpoint exam-score updated (blue/green) to v2" in again.stdout

    # The console it printed shows the example's work on every page, each in under 1 s.
    assert f"Console: http://127.0.0.1:{port}/" in again.stdout
    server = ServerProcess(data_dir=data_dir, port=port).start()
    try:
        tuning_job = result.stdout.split("4. Tuning job ")[1].split(":")[0]
        pages = {
            "/": ["exam-scores", "exam-score"],
            "/datasets": ["exam-scores"],
            "/datasets/exam-scores": ["study_hours", "exam_score"],
            "/training-jobs": ["exam-xgb-"],
            "/tuning-jobs": [tuning_job],
            f"/tuning-jobs/{tuning_job}": ["validation:rmse", "Register best"],
            "/models/exam-score": ["v1", "v2", "Approved"],
            "/endpoints/exam-score": ["exam-score", "v2"],
            "/monitoring": ["exam-score-monitor"],
            "/monitoring/exam-score-monitor": ["study_hours", "baseline_drift_check"],
        }
        with httpx.Client(base_url=server.url, timeout=10) as console:
            for path, words in pages.items():
                started = time.monotonic()
                answer = console.get(path)
                seconds = time.monotonic() - started
                assert answer.status_code == 200, path
                for word in words:
                    assert word in answer.text, (path, word)
                assert seconds < 1.0, (path, seconds)
    finally:
        server.kill()
