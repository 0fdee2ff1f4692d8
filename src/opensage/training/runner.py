"""Runs one claimed training job: workspace, inputs, process, logs, metrics, model, status."""

from __future__ import annotations

import logging
import shutil
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import fsspec

from opensage.datasets.service import DatasetService
from opensage.errors import OpenSageError
from opensage.storage import ArtifactStore
from opensage.training.environments import EnvironmentCache
from opensage.training.launcher import Launcher
from opensage.training.logs import LogShipper
from opensage.training.metrics import MetricParser, Point
from opensage.training.models import TrainingJob
from opensage.training.service import TrainingService
from opensage.training.states import SecondaryStatus, TrainingJobStatus
from opensage.training.workspace import Workspace, sm_environment

logger = logging.getLogger(__name__)

S = TrainingJobStatus
FLUSH_S = 0.2
"""How often a running job's new metric values are stored (early stopping reads them)."""
POLL_S = FLUSH_S
"""How often a running job's log is read, and stop and max runtime checked (its exit is
seen at once). No more often than its metrics are stored: each wake-up of this thread
takes a moment of a core from the job's own threads."""
SHIP_S = 3.0
MAX_REASON = 4000


class JobRunner:
    """Executes claimed jobs, one call of :meth:`run` per job (on its own thread)."""

    def __init__(
        self,
        service: TrainingService,
        datasets: DatasetService,
        store: ArtifactStore,
        launcher: Launcher,
        workspaces: Path,
        *,
        s3_endpoint_url: str | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        self.service = service
        self.datasets = datasets
        self.store = store
        self.launcher = launcher
        self.workspaces = workspaces
        self.s3_endpoint_url = s3_endpoint_url
        self.stop_grace_s = stop_grace_s
        self.environments = EnvironmentCache(workspaces.parent / "environments")

    def run(self, job: TrainingJob, stop: threading.Event, interrupt: threading.Event) -> None:
        """Run ``job`` to its end; ``stop`` asks for a user stop, ``interrupt`` for shutdown."""
        workspace = Workspace(self.workspaces / job.name)
        try:
            self._run(job, workspace, stop, interrupt)
        except OpenSageError as exc:
            self._finish_failed(job.name, exc.message)
        except Exception as exc:
            logger.exception("training job %s failed in the platform", job.name)
            self._finish_failed(job.name, f"the platform could not run the job: {exc}")

    # -- phases -----------------------------------------------------------------------
    def _run(
        self,
        job: TrainingJob,
        workspace: Workspace,
        stop: threading.Event,
        interrupt: threading.Event,
    ) -> None:
        workspace.reset()
        self.service.advance(job.name, SecondaryStatus.DOWNLOADING, "preparing input data")
        input_config = self._materialize(job, workspace)
        workspace.write_config(job.hyperparameters, input_config)
        entry_point, cwd, user_args, extra_paths = self._code(job, workspace)
        environment = sm_environment(
            workspace,
            job_name=job.name,
            hyperparameters=job.hyperparameters,
            input_data_config=input_config,
            num_cpus=job.cpu_slots,
            entry_point=entry_point,
        )
        environment.update(job.environment)
        spec: dict[str, Any] = {
            "job_name": job.name,
            "algorithm": job.algorithm,
            "entry_point": entry_point,
            "user_args": user_args,
            "cwd": str(cwd),
            "environment": environment,
            "hyperparameters": job.hyperparameters,
            "channels": {c: str(workspace.channel_dir(c)) for c in input_config},
            "input_data_config": input_config,
            "model_dir": str(workspace.model_dir),
            "output_data_dir": str(workspace.output_data_dir),
            "checkpoint_dir": str(workspace.checkpoint_dir),
            "failure_file": str(workspace.failure_file),
            "log_file": str(workspace.log_file),
            "num_cpus": job.cpu_slots,
            "extra_paths": extra_paths,
        }
        if stop.is_set():
            self.service.finish(job.name, S.STOPPED, SecondaryStatus.STOPPED, reason="stopped")
            return
        self.service.advance(job.name, SecondaryStatus.TRAINING, "running the training code")
        process = self.launcher.start(spec)
        outcome = self._watch(job, process, workspace, stop, interrupt)
        if outcome == "interrupted":
            return  # the scheduler hands the job to the recovery policy
        if outcome == "stopped":
            artifact = self._upload(job.name, workspace)
            self.service.finish(job.name, S.STOPPED, SecondaryStatus.STOPPED,
                                reason="stopped by request", model_artifact=artifact)  # fmt: skip
            return
        if outcome == "timeout":
            artifact = self._upload(job.name, workspace)
            self.service.finish(
                job.name,
                S.STOPPED,
                SecondaryStatus.MAX_RUNTIME_EXCEEDED,
                reason=f"the job ran longer than its max_runtime_s ({job.max_runtime_s} s)",
                model_artifact=artifact,
            )
            return
        if process.exitcode != 0:
            self._finish_failed(job.name, self._failure_reason(workspace, process.exitcode))
            return
        self.service.advance(job.name, SecondaryStatus.UPLOADING, "uploading the model")
        artifact = self._upload(job.name, workspace)
        self.service.finish(
            job.name, S.COMPLETED, SecondaryStatus.COMPLETED, model_artifact=artifact
        )

    def _watch(
        self,
        job: TrainingJob,
        process: Any,
        workspace: Workspace,
        stop: threading.Event,
        interrupt: threading.Event,
    ) -> str:
        """Follow the process: metrics from its log, stop, interrupt and max runtime."""
        parser = MetricParser(job.metric_definitions)
        shipper = LogShipper(self.store, job.name, job.attempt, workspace.log_file)
        started = time.monotonic()
        offset = 0
        pending: list[Point] = []
        last_flush = last_ship = started
        outcome = "exited"
        while True:
            offset, points = self._tail(workspace.log_file, offset, parser, final=False)
            pending.extend(points)
            now = time.monotonic()
            if pending and now - last_flush >= FLUSH_S:
                self.service.record_metrics(job.name, pending)
                pending, last_flush = [], now
            if now - last_ship >= SHIP_S:
                self._ship(shipper)
                last_ship = now
            if not process.is_alive():
                break
            if interrupt.is_set():
                self.launcher.terminate(process, self.stop_grace_s)
                outcome = "interrupted"
                break
            if stop.is_set():
                self.launcher.terminate(process, self.stop_grace_s)
                outcome = "stopped"
                break
            if now - started > job.max_runtime_s:
                self.launcher.terminate(process, self.stop_grace_s)
                outcome = "timeout"
                break
            process.join(timeout=POLL_S)
        process.join()
        offset, points = self._tail(workspace.log_file, offset, parser, final=True)
        self.service.record_metrics(job.name, pending + points)
        self._ship(shipper)
        return outcome

    @staticmethod
    def _ship(shipper: LogShipper) -> None:
        """Ship the log's new bytes; a store hiccup must not fail the job (the tail waits)."""
        try:
            shipper.ship()
        except OSError:
            logger.warning("could not ship the log of a job; will retry", exc_info=True)

    @staticmethod
    def _tail(
        path: Path, offset: int, parser: MetricParser, *, final: bool
    ) -> tuple[int, list[Point]]:
        if not path.exists():
            return offset, []
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        if not data and not final:
            return offset, []
        return offset + len(data), parser.feed(data.decode("utf-8", errors="replace"), final=final)

    # -- inputs -----------------------------------------------------------------------
    def _materialize(self, job: TrainingJob, workspace: Workspace) -> dict[str, dict[str, Any]]:
        """Fill ``input/data/<channel>/`` and describe each channel as SageMaker does."""
        config: dict[str, dict[str, Any]] = {}
        for channel, spec in job.channels.items():
            target = workspace.channel_dir(channel)
            target.mkdir(parents=True, exist_ok=True)
            entry: dict[str, Any] = {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            if "dataset" in spec:
                self.datasets.materialize(
                    spec["dataset"], spec["version"], spec.get("split"), target / "data.parquet"
                )
                entry["ContentType"] = "application/x-parquet"
                entry["OpenSageLabel"] = spec.get("label")
                entry["OpenSageDataset"] = f"{spec['dataset']}:{spec['version']}"
            else:
                self._copy_uri(spec["uri"], target)
                entry["ContentType"] = spec.get("content_type", "text/csv")
            config[channel] = entry
        return config

    def _copy_uri(self, uri: str, target: Path) -> None:
        if uri.startswith("s3://"):
            options: dict[str, Any] = {"skip_instance_cache": True}
            if self.s3_endpoint_url:
                options["client_kwargs"] = {"endpoint_url": self.s3_endpoint_url}
            fs, path = fsspec.core.url_to_fs(uri, **options)
            if fs.isdir(path):
                fs.get(path.rstrip("/") + "/", str(target) + "/", recursive=True)
            else:
                fs.get(path, str(target / Path(path).name))
            return
        source = Path(uri)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / source.name)

    def _code(
        self, job: TrainingJob, workspace: Workspace
    ) -> tuple[str | None, Path, list[str], list[str]]:
        """Unpack the user's code (script mode): entry point, working dir, argv, and the
        site-packages of its ``requirements.txt`` environment, if it has one."""
        if job.script is None:
            return None, workspace.root, [], []
        key = job.script["key"]
        if job.script["archive"]:
            with (
                self.store.open_read(key) as handle,
                tarfile.open(fileobj=handle, mode="r:gz") as archive,
            ):
                archive.extractall(workspace.code_dir, filter="data")
        else:
            with (
                self.store.open_read(key) as handle,
                open(workspace.code_dir / Path(key).name, "wb") as out,
            ):
                shutil.copyfileobj(handle, out)
        entry_point = str(job.script["entry_point"])
        if not (workspace.code_dir / entry_point).is_file():
            raise OpenSageError(f"the entry point {entry_point!r} is not in the source")
        extra_paths: list[str] = []
        requirements = workspace.code_dir / "requirements.txt"
        if requirements.is_file():
            self.service.advance(job.name, SecondaryStatus.DOWNLOADING, "installing requirements")
            extra = self.environments.site_packages_for(requirements, workspace.log_file)
            extra_paths.append(str(extra))
        user_args: list[str] = []
        for key_, value in job.hyperparameters.items():
            user_args += [f"--{key_}", value]
        return entry_point, workspace.code_dir, user_args, extra_paths

    # -- outputs ----------------------------------------------------------------------
    def _upload(self, name: str, workspace: Workspace) -> str | None:
        """Copy the model (and output data) into the artifact store; the model's prefix."""
        files = [p for p in workspace.model_dir.rglob("*") if p.is_file()]
        prefix = f"training-jobs/{name}/attempt-{int(time.time() * 1000)}"
        for path in files:
            self.store.put_file(
                path, f"{prefix}/model/{path.relative_to(workspace.model_dir).as_posix()}"
            )
        for path in (p for p in workspace.output_data_dir.rglob("*") if p.is_file()):
            self.store.put_file(
                path, f"{prefix}/output/{path.relative_to(workspace.output_data_dir).as_posix()}"
            )
        return f"{prefix}/model" if files else None

    @staticmethod
    def _failure_reason(workspace: Workspace, exitcode: int | None) -> str:
        if workspace.failure_file.exists():
            reason = workspace.failure_file.read_text(errors="replace").strip()
            if reason:
                return reason[:MAX_REASON]
        if exitcode is not None and exitcode < 0:
            return f"the job's process was killed by signal {-exitcode}"
        return f"the job's process exited with status {exitcode}"

    def _finish_failed(self, name: str, reason: str) -> None:
        try:
            self.service.finish(name, S.FAILED, SecondaryStatus.FAILED, reason=reason[:MAX_REASON])
        except OpenSageError:
            logger.warning("could not mark %s failed", name, exc_info=True)
