"""Script mode: a SageMaker-style script runs unchanged, with metrics, logs, stop and limits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import opensage
from tests.training.conftest import write_script

SAGEMAKER_SCRIPT = """
import argparse, json, os
import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
args = parser.parse_args()

frame = pd.read_parquet(args.train)
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss: {1.0 / (epoch + 1):.4f}")
seen = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
config = os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")
with open(os.path.join(args.model_dir, "model.json"), "w") as out:
    json.dump({"rows": len(frame), "columns": list(frame.columns), "env": seen,
               "hps_file": json.load(open(config)), "lr": args.lr}, out)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w") as out:
    out.write("done")
"""


def test_sagemaker_script_runs_unchanged(
    trainer: opensage.Client, regression_dataset: str, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "code", SAGEMAKER_SCRIPT)
    job = trainer.training_jobs.create(
        "sm-script",
        script=script,
        hyperparameters={"epochs": 3, "lr": 0.05},
        channels={"train": f"{regression_dataset}:train"},
        metric_definitions=[{"name": "train:loss", "regex": r"loss: ([0-9.]+)"}],
    ).wait(timeout=60)

    assert job.status.value == "Completed", job.failure_reason
    assert job.final_metrics == {"train:loss": pytest.approx(1 / 3, abs=1e-4)}
    series = job.metrics("train:loss")
    assert series["step"].tolist() == [0, 1, 2]
    assert series["value"].tolist() == pytest.approx([1.0, 0.5, 0.3333], abs=1e-4)
    assert job.model_artifact_url is not None
    model = json.loads((Path(job.model_artifact_url) / "model.json").read_text())
    assert model["rows"] == 320 and model["columns"] == ["a", "b", "c", "y"]
    assert model["lr"] == 0.05
    assert model["hps_file"] == {"epochs": "3", "lr": "0.05"}
    env = model["env"]
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"epochs": "3", "lr": "0.05"}
    assert env["SM_HP_EPOCHS"] == "3" and env["SM_NUM_CPUS"] == "1"
    assert env["SM_CHANNEL_TRAIN"].endswith("input/data/train")
    assert (Path(job.model_artifact_url).parent / "output" / "report.txt").read_text() == "done"
    statuses = [t.status.value for t in job.info.status_transitions]
    assert statuses == ["Pending", "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t.end_time is not None for t in job.info.status_transitions)
    log = "".join(job.logs())
    assert "epoch=2 loss: 0.3333" in log


def test_log_metric_helper_and_source_dir(trainer: opensage.Client, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    write_script(folder, "def value(step):\n    return 10.0 - step\n", name="helpers.py")
    write_script(
        folder,
        """
        import opensage
        from helpers import value
        for step in range(4):
            opensage.log_metric("validation:rmse", value(step), step=step * 10)
        """,
    )
    job = trainer.training_jobs.create("with-dir", source_dir=folder, entry_point="train.py")
    job.wait(timeout=60)
    assert job.status.value == "Completed", job.failure_reason
    frame = job.metrics()
    assert frame["step"].tolist() == [0, 10, 20, 30]
    assert frame["value"].tolist() == [10.0, 9.0, 8.0, 7.0]
    assert job.model_artifact_url is None  # it saved no model


def test_a_crashing_script_fails_with_its_own_message(
    trainer: opensage.Client, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "raise ValueError('learning rate must be positive')\n")
    job = trainer.training_jobs.create("crash", script=script).wait(timeout=60)
    assert job.status.value == "Failed"
    assert job.failure_reason == "ValueError: learning rate must be positive"
    assert "Traceback" in "".join(job.logs())


def test_a_script_that_writes_its_failure_file_keeps_its_reason(
    trainer: opensage.Client, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        """
        import os, sys
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("not enough data: 3 rows")
        sys.exit(2)
        """,
    )
    job = trainer.training_jobs.create("own-reason", script=script).wait(timeout=60)
    assert (job.status.value, job.failure_reason) == ("Failed", "not enough data: 3 rows")


def test_stop_works_mid_training(trainer: opensage.Client, tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stubborn script: needs SIGKILL
        for i in range(600):
            print(f"step {i}", flush=True)
            time.sleep(0.1)
        """,
    )
    job = trainer.training_jobs.create("long", script=script)
    _wait_for_log(job, "step 3")
    started = time.monotonic()
    job.stop()
    job.wait(timeout=30)
    assert job.status.value == "Stopped"
    assert time.monotonic() - started < 10
    assert job.failure_reason == "stopped by request"
    with pytest.raises(opensage.Conflict):
        job.stop()


def test_max_runtime_stops_a_job(trainer: opensage.Client, tmp_path: Path) -> None:
    script = write_script(tmp_path, "import time\ntime.sleep(60)\n")
    job = trainer.training_jobs.create("too-long", script=script, max_runtime_s=1).wait(timeout=30)
    assert job.status.value == "Stopped"
    assert job.info.secondary_status.value == "MaxRuntimeExceeded"
    assert "max_runtime_s (1 s)" in (job.failure_reason or "")


def test_jobs_share_cpu_slots(trainer: opensage.Client, tmp_path: Path) -> None:
    script = write_script(tmp_path, "import time\ntime.sleep(2)\n")
    jobs = [trainer.training_jobs.create(f"slot-{i}", script=script) for i in range(3)]
    for job in jobs:
        job.wait(timeout=60)
    assert [j.status.value for j in jobs] == ["Completed"] * 3
    # From the recorded timelines: how many jobs held a slot at each moment.
    spans = [(j.info.started_at, j.info.ended_at) for j in jobs]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running, busiest = 0, 0
    for _, change in events:
        running += change
        busiest = max(busiest, running)
    assert busiest == 2
    two_slots = trainer.training_jobs.create("wide", script=script, cpu_slots=2).wait(timeout=30)
    assert two_slots.status.value == "Completed"
    with pytest.raises(opensage.InvalidInput, match="this server has 2"):
        trainer.training_jobs.create("too-wide", script=script, cpu_slots=3)


POOLS_SCRIPT = """
import json
from threadpoolctl import threadpool_info
pools = sorted({(p["user_api"], p["num_threads"]) for p in threadpool_info()})
print("pools=" + json.dumps(pools))
"""


@pytest.mark.parametrize("cpu_slots", [1, 2])
def test_a_script_gets_as_many_blas_and_openmp_threads_as_cpu_slots(
    trainer: opensage.Client, tmp_path: Path, cpu_slots: int
) -> None:
    # The fork server runs BLAS on one thread for the workers; a script job gets its slots.
    script = write_script(tmp_path, POOLS_SCRIPT)
    job = trainer.training_jobs.create(
        f"pools-{cpu_slots}", script=script, cpu_slots=cpu_slots
    ).wait(timeout=60)
    assert job.status.value == "Completed", job.failure_reason
    line = next(x for x in "".join(job.logs()).splitlines() if x.startswith("pools="))
    pools = {tuple(pool) for pool in json.loads(line.removeprefix("pools="))}
    assert {api for api, _ in pools} == {"blas", "openmp"}
    assert pools == {("blas", cpu_slots), ("openmp", cpu_slots)}


def test_bad_submissions_are_rejected(trainer: opensage.Client, tmp_path: Path) -> None:
    script = write_script(tmp_path, "print('hi')\n")
    with pytest.raises(opensage.InvalidInput, match="does not exist") as missing:
        trainer.training_jobs.create("x", script=script, channels={"train": "missing-ds"})
    assert missing.value.field == "channels.train"
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    trainer.datasets.create(data, name="no-splits")
    with pytest.raises(opensage.InvalidInput, match="has no split 'train'"):
        trainer.training_jobs.create("x", script=script, channels={"train": "no-splits:train"})
    with pytest.raises(opensage.InvalidInput, match=r"unknown algorithm|not a built-in|known"):
        trainer.training_jobs.create("x", algorithm="deep-magic")
    with pytest.raises(opensage.InvalidInput, match="exactly one of algorithm"):
        trainer.training_jobs.create("x")
    with pytest.raises(opensage.InvalidInput, match="regex"):
        trainer.training_jobs.create(
            "x", script=script, metric_definitions=[{"name": "m", "regex": "no group"}]
        )
    trainer.training_jobs.create("dup", script=script).wait(timeout=30)
    with pytest.raises(opensage.Conflict):
        trainer.training_jobs.create("dup", script=script)
    with pytest.raises(opensage.NotFound):
        trainer.training_jobs.get("nope")


def _wait_for_log(job: opensage.TrainingJob, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in "".join(job.logs()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the log")


def _tiny_wheel(folder: Path) -> Path:
    """A minimal wheel of a package ``tinydep`` (built by hand: no network, no build tool)."""
    import base64
    import hashlib
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinydep-0.1-py3-none-any.whl"
    files = {
        "tinydep/__init__.py": b"ANSWER = 42\n",
        "tinydep-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\n",
        "tinydep-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    records = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{name},sha256={digest},{len(data)}")
    records.append("tinydep-0.1.dist-info/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("tinydep-0.1.dist-info/RECORD", "\n".join(records) + "\n")
    return wheel


def test_requirements_are_installed_once_into_a_cached_environment(
    trainer: opensage.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # tests never reach the internet
    folder = tmp_path / "src"
    wheel = _tiny_wheel(folder / "wheels")
    (folder / "requirements.txt").write_text(f"./wheels/{wheel.name}\npandas\n")
    write_script(folder, "import tinydep, pandas\nprint('answer', tinydep.ANSWER)\n")
    first = trainer.training_jobs.create("req-1", source_dir=folder, entry_point="train.py")
    first.wait(timeout=120)
    assert first.status.value == "Completed", first.failure_reason
    log = "".join(first.logs())
    assert "answer 42" in log and "installing requirements.txt" in log
    second = trainer.training_jobs.create("req-2", source_dir=folder, entry_point="train.py")
    second.wait(timeout=60)
    assert "answer 42" in "".join(second.logs())
    assert "installing requirements.txt" not in "".join(second.logs())  # cached
    with pytest.raises(ImportError):  # the platform's own environment is untouched
        import tinydep  # type: ignore[import-not-found]  # noqa: F401


def test_the_log_is_shipped_to_the_artifact_store_while_the_job_runs(
    trainer: opensage.Client, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        """
        import time
        for i in range(5):
            print(f"line {i}", flush=True)
            time.sleep(1)
        """,
    )
    job = trainer.training_jobs.create("shipped", script=script)
    _wait_for_log(job, "line 1")
    data_dir = tmp_path / "data"  # the trainer fixture's data directory
    parts_dir = next(data_dir.rglob("training-jobs/shipped/logs"), None)
    deadline = time.monotonic() + 15
    while (parts_dir is None or not any(parts_dir.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
        parts_dir = next(data_dir.rglob("training-jobs/shipped/logs"), None)
    assert parts_dir is not None and any(parts_dir.glob("part-001-*.log"))
    assert job.refresh().status.value == "InProgress"  # shipped while running
    job.wait(timeout=30)
    shipped = b"".join(p.read_bytes() for p in sorted(parts_dir.glob("part-*.log"))).decode()
    assert shipped == "".join(f"line {i}\n" for i in range(5))
    # With the workspace gone, the log is read from the store alone, in chunks too.
    import shutil

    shutil.rmtree(data_dir / "workspaces" / "shipped")
    assert "".join(job.logs()) == shipped
    first = trainer.session.json("GET", "/api/v1/training-jobs/shipped/logs", params={"limit": 10})
    rest = trainer.session.json(
        "GET", "/api/v1/training-jobs/shipped/logs", params={"offset": first["next_offset"]}
    )
    assert first["text"] + rest["text"] == shipped and rest["complete"]
