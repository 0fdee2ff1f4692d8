"""A tuning job survives a server restart and picks up where it was."""

from __future__ import annotations

import time
from pathlib import Path

import opensage
from opensage import ContinuousRange
from tests.conftest import ServerProcess
from tests.tuning.conftest import LOSS_METRIC, objective_script


def test_a_tuning_job_survives_a_killed_server(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "data").start()
    script = objective_script(tmp_path, "(x - 0.3) ** 2", steps=4, sleep=0.25)
    try:
        with opensage.Client(server.url) as client:
            job = client.tuning_jobs.create(
                "survivor",
                script=script,
                metric_definitions=LOSS_METRIC,
                objective="loss",
                parameter_ranges={"x": ContinuousRange(min=0, max=1)},
                strategy="bayesian",
                max_trials=6,
                max_parallel_trials=2,
                seed=3,
            )
            deadline = time.monotonic() + 90
            while True:  # kill it with trials done and trials running
                counts = job.refresh().info.trial_counts
                if counts.completed >= 2 and counts.in_progress >= 1:
                    break
                assert time.monotonic() < deadline, counts
                time.sleep(0.05)
            before = {t.number: t for t in job.trial_list()}
        server.kill()

        server.start()
        with opensage.Client(server.url) as client:
            job = client.tuning_jobs.get("survivor").wait(timeout=120)
            assert job.status.value == "Completed", job.info
            trials = job.trial_list()
            # The budget is kept: the interrupted trials ran again rather than failing,
            # and no trial was lost or launched twice.
            assert [t.number for t in trials] == [1, 2, 3, 4, 5, 6]
            assert job.info.trial_counts.completed == 6
            for number, earlier in before.items():
                assert trials[number - 1].hyperparameters == earlier.hyperparameters
                if earlier.status.value == "Completed":
                    assert trials[number - 1].objective_value == earlier.objective_value
            # At least one trial was cut by the kill; it ran again as a second attempt.
            retried = []
            for trial in trials:
                training = client.training_jobs.get(trial.training_job_name)
                assert training.status.value == "Completed"
                steps = [t.status.value for t in training.info.status_transitions]
                if "Interrupted" in steps:
                    assert training.info.attempt == 2
                    retried.append(trial.number)
            assert retried, "the kill interrupted no trial"
            assert job.info.best_trial is not None
    finally:
        server.stop()
