"""Runs one claimed transform job: model, input, parts, worker processes, output, status."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from collections import OrderedDict, deque
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from opensage.datasets.ingest import logical_type
from opensage.datasets.schemas import DatasetCreate
from opensage.datasets.service import DatasetService
from opensage.errors import NotFound, OpenSageError
from opensage.registry.service import RegistryService
from opensage.storage import ArtifactStore
from opensage.training.launcher import Launcher
from opensage.transform.encoding import OutputFormat
from opensage.transform.inputs import KINDS, files_layout, find_files, local_copies
from opensage.transform.layout import FeatureLayout, table_layout
from opensage.transform.models import TransformJob
from opensage.transform.parts import Part, byte_sizes, plan_lines, plan_parquet, row_sizes
from opensage.transform.records import RecordError
from opensage.transform.service import OUTPUT_SUFFIX, SHUTDOWN_REASON, TransformService
from opensage.transform.states import TransformJobStatus
from opensage.transform.worker import JobFolder, run_worker

logger = logging.getLogger(__name__)

S = TransformJobStatus
POLL_S = 0.05
PROGRESS_S = 0.5


class TransformRunner:
    """Executes claimed jobs, one call of :meth:`run` per job (on its own thread)."""

    def __init__(
        self,
        service: TransformService,
        registry: RegistryService,
        datasets: DatasetService,
        store: ArtifactStore,
        launcher: Launcher,
        workspaces: Path,
        *,
        s3_endpoint_url: str | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        self.service = service
        self.registry = registry
        self.datasets = datasets
        # Output datasets are made from the job's own files in its workspace, which the
        # shared service refuses while auth is on (callers may not name server paths).
        self.output_datasets = DatasetService(
            datasets.db,
            datasets.store,
            datasets.uploads,
            s3_endpoint_url=datasets.s3_endpoint_url,
            allow_local_paths=True,
        )
        self.store = store
        self.launcher = launcher
        self.workspaces = workspaces
        self.s3_endpoint_url = s3_endpoint_url
        self.stop_grace_s = stop_grace_s

    def run(self, job: TransformJob, stop: threading.Event, interrupt: threading.Event) -> None:
        """Run ``job`` to its end; ``stop`` asks for a user stop, ``interrupt`` for shutdown."""
        folder = JobFolder(self.workspaces / job.name)
        shutil.rmtree(folder.root, ignore_errors=True)
        folder.create()
        output: dict[str, Any] | None = None
        try:
            status, reason, output = self._run(job, folder, stop, interrupt)
        except OpenSageError as exc:
            status, reason = S.FAILED, exc.message
        except RecordError as exc:
            status, reason = S.FAILED, str(exc)
        except Exception as exc:
            logger.exception("transform job %s failed in the platform", job.name)
            status, reason = S.FAILED, f"the platform could not run the job: {exc}"
        # The job's files go before it is seen ended, so an ended job has none left.
        shutil.rmtree(folder.root, ignore_errors=True)
        try:
            self.service.finish(job.name, status, reason=reason, output=output)
        except OpenSageError:
            logger.warning("could not end transform job %s", job.name, exc_info=True)

    # -- phases -----------------------------------------------------------------------
    def _run(
        self,
        job: TransformJob,
        folder: JobFolder,
        stop: threading.Event,
        interrupt: threading.Event,
    ) -> tuple[TransformJobStatus, str | None, dict[str, Any] | None]:
        """Predict the whole input and write the output: the job's end status, reason and
        output."""
        try:
            self.registry.download(job.model_group, job.model_version, folder.model_dir)
            version = self.registry.get_version(job.model_group, job.model_version)
        except NotFound:
            raise OpenSageError(
                f"model {job.model_group} v{job.model_version} was deleted before the job ran"
            ) from None
        features = version.feature_names or None
        parts, layout = self._plan(job, folder, features)
        rows_total = sum(part.rows for part in parts)
        self.service.record_progress(job.name, 0, rows_total)
        if rows_total == 0:
            raise OpenSageError("the input holds no records")
        outcome = "not started"
        fmt = self._format(job)
        files = None if "dataset" in job.output else OutputFiles(folder, parts, fmt)
        if not (stop.is_set() or interrupt.is_set()):
            outcome = self._predict(job, folder, parts, layout, fmt, stop, interrupt, files)
        if interrupt.is_set() and outcome != "done":
            return S.FAILED, SHUTDOWN_REASON, None
        if stop.is_set() and outcome != "done":
            return S.STOPPED, "stopped by request", None
        missing = [p.index for p in parts if not folder.output(p.index, fmt).exists()]
        if missing:
            raise OpenSageError(f"the workers left parts {missing[:10]} without output")
        if files is None:
            return S.COMPLETED, None, self._write_dataset(job, folder, parts)
        return S.COMPLETED, None, {"files": files.store(self.store, job.output["path"])}

    @staticmethod
    def _format(job: TransformJob) -> OutputFormat:
        if "dataset" in job.output:
            return "parquet"
        return "jsonl" if job.output.get("accept") == "application/jsonlines" else "csv"

    # -- input ------------------------------------------------------------------------
    def _plan(
        self, job: TransformJob, folder: JobFolder, features: list[str] | None
    ) -> tuple[list[Part], FeatureLayout]:
        """Local copies of the input, cut into parts, and the columns of the features."""
        spec = job.input
        workers = job.max_parallel
        if "dataset" in spec:
            target = folder.input_dir / "data.parquet"
            # The workers only read it (the model's own code gets arrays, not the file).
            self.datasets.materialize(
                spec["dataset"], spec["version"], spec.get("split"), target, read_only=True
            )
            schema = pq.read_schema(target)
            types = {field.name: logical_type(field.type) for field in schema}
            where = f"dataset {spec['dataset']!r} v{spec['version']}"
            layout = table_layout(features, types, spec.get("label"), where=where)
            source = f"{spec['dataset']}-v{spec['version']}"
            if spec.get("split"):
                source += f"-{spec['split']}"
            total = pq.ParquetFile(target).metadata.num_rows
            rows = row_sizes(total, workers, job.batch_size)
            return plan_parquet(target, source, rows, 0), layout
        files = find_files(
            spec["uri"],
            s3_endpoint_url=self.s3_endpoint_url,
            allow_local_paths=True,  # checked at submit, against the caller
        )
        layout = files_layout(files, spec["content_type"], features)
        kind = KINDS[spec["content_type"]]
        local = local_copies(files, folder.input_dir)
        parts: list[Part] = []
        if kind == "parquet":
            total = sum(pq.ParquetFile(path).metadata.num_rows for path, _ in local)
            rows = row_sizes(total, workers, job.batch_size)  # guided over all the files
            for path, source in local:
                parts += plan_parquet(path, source, rows, len(parts))
            return parts, layout
        size = byte_sizes(sum(path.stat().st_size for path, _ in local), workers)
        for path, source in local:
            parts += plan_lines(path, source, kind, size, len(parts))
        return parts, layout

    # -- workers ----------------------------------------------------------------------
    def _predict(
        self,
        job: TransformJob,
        folder: JobFolder,
        parts: list[Part],
        layout: FeatureLayout,
        fmt: OutputFormat,
        stop: threading.Event,
        interrupt: threading.Event,
        files: OutputFiles | None,
    ) -> str:
        """Run the workers until every part is done: ``done``, ``stopped`` or
        ``interrupted`` (a failed worker raises its reason). Meanwhile ``files``, if
        given, takes the parts done so far."""
        spec: dict[str, Any] = {
            "folder": str(folder.root),
            "parts": [part.to_dict() for part in parts],
            "layout": layout.to_dict(),
            "batch_size": job.batch_size,
            "join": job.join_source == "input",
            "format": fmt,
        }
        processes = [
            self.launcher.start_process(
                run_worker, {**spec, "worker": number}, f"opensage-transform-{job.name}-{number}"
            )
            for number in range(min(job.max_parallel, len(parts)))
        ]
        last_progress = 0.0
        rows_done = -1
        try:
            while True:
                now = time.monotonic()
                if now - last_progress >= PROGRESS_S:
                    done = folder.rows_done()
                    if done != rows_done:
                        self.service.record_progress(job.name, done)
                        rows_done = done
                    last_progress = now
                failed = [p for p in processes if p.exitcode not in (None, 0)]
                if failed:
                    self._terminate(processes)
                    raise RecordError(folder.failure() or _exit_reason(failed[0].exitcode))
                if files is not None:
                    files.append_done()
                if all(p.exitcode == 0 for p in processes):
                    return "done"
                if interrupt.is_set():
                    self._terminate(processes)
                    return "interrupted"
                if stop.is_set():
                    self._terminate(processes)
                    return "stopped"
                wait([p.sentinel for p in processes if p.exitcode is None], timeout=POLL_S)
        finally:
            self._terminate(processes)

    def _terminate(self, processes: list[BaseProcess]) -> None:
        """SIGTERM to every live worker, then SIGKILL to those alive after the grace."""
        alive = [p for p in processes if p.exitcode is None]
        for process in alive:
            self.launcher.signal(process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        for process in alive:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in alive:
            if process.exitcode is None:
                self.launcher.signal(process, signal.SIGKILL)
                process.join(timeout=10)

    # -- output -----------------------------------------------------------------------
    def _write_dataset(
        self, job: TransformJob, folder: JobFolder, parts: list[Part]
    ) -> dict[str, Any]:
        """The parts merged into one Parquet file, ingested as the output dataset."""
        target = folder.root / "output.parquet"
        writer: pq.ParquetWriter | None = None
        try:
            for part in parts:
                piece = pq.ParquetFile(folder.output(part.index, "parquet"))
                for batch in piece.iter_batches(batch_size=64 * 1024):
                    table = pa.Table.from_batches([batch])
                    if writer is None:
                        writer = pq.ParquetWriter(str(target), table.schema, compression="snappy")
                    elif table.schema != writer.schema:
                        try:
                            table = table.cast(writer.schema)
                        except (pa.ArrowInvalid, ValueError) as exc:
                            raise RecordError(
                                f"{part.source}: column types differ from earlier rows: {exc}"
                            ) from None
                    writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        columns = pq.read_schema(target).names
        label = job.input.get("label")
        name = job.output["dataset"]
        created = self.output_datasets.create(
            DatasetCreate(
                name=name,
                source=str(target),
                format="parquet",
                label=label if label in columns else None,
                description=f"Predictions of transform job {job.name} "
                f"({job.model_group} v{job.model_version}).",
            )
        )
        return {"dataset": name, "dataset_version": created.version}


class OutputFiles:
    """A file output: one ``<input file>.out`` per input file, its parts in order.

    Each is assembled in the job's folder as its parts are done, and synced as it grows,
    so that little is left to copy and sync once the last part is done; they all go
    into the artifact store only then (or none of them).
    """

    def __init__(self, folder: JobFolder, parts: list[Part], fmt: OutputFormat) -> None:
        self.folder = folder
        self.fmt = fmt
        self._waiting = deque(parts)
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._handle: BinaryIO | None = None

    def append_done(self) -> None:
        """Append the parts done so far that come next in order."""
        appended = False
        while self._waiting:
            part = self._waiting[0]
            piece = self.folder.output(part.index, self.fmt)
            if not piece.exists():  # a part's file appears once it is complete
                break
            if part.source not in self._files:
                self._close()  # the previous input file's output is whole
                path = self.folder.assembled / f"{len(self._files):06d}{OUTPUT_SUFFIX}"
                self._files[part.source] = path
                self._handle = open(path, "wb")  # noqa: SIM115 - closed by _close
            assert self._handle is not None
            with open(piece, "rb") as source:
                shutil.copyfileobj(source, self._handle, 8 << 20)
            self._waiting.popleft()
            appended = True
        if appended:
            self._sync()

    def store(self, store: ArtifactStore, prefix: str) -> int:
        """Put every file under ``prefix`` (once every part is done); how many."""
        self.append_done()
        if self._waiting:
            raise OpenSageError(f"part {self._waiting[0].index} has no output")
        self._close()
        written: list[str] = []
        try:
            for source, path in self._files.items():
                written.append(store.move_in(path, f"{prefix}/{source}{OUTPUT_SUFFIX}"))
        except BaseException:
            for key in written:
                store.delete_file(key)
            raise
        return len(written)

    def _sync(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fdatasync(self._handle.fileno())

    def _close(self) -> None:
        if self._handle is not None:
            self._sync()
            self._handle.close()
            self._handle = None


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return (
            f"a worker process was killed by signal {-exitcode} (out of memory? try a "
            "smaller batch_size)"
        )
    return f"a worker process exited with status {exitcode}"
