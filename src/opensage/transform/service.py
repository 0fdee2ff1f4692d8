"""The batch transform capability: submit, inspect, stop and delete transform jobs.

A job is checked while the caller waits (model approved, input readable, its columns the
model's features, output free) and queued; the transform scheduler runs it when worker
slots are free. Its output is another capability's resource (a dataset) or files under a
prefix of the artifact store, written once the whole input has been predicted.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.datasets.service import DatasetService
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.pagination import (
    Page,
    contains_pattern,
    newest_first,
    newest_first_page,
)
from opensage.registry.schemas import ApprovalStatus, ModelVersionOut
from opensage.registry.service import RegistryService
from opensage.storage import ArtifactStore
from opensage.transform.encoding import PREDICTION
from opensage.transform.inputs import files_layout, find_files
from opensage.transform.layout import FeatureLayout, table_layout
from opensage.transform.models import TransformJob
from opensage.transform.schemas import (
    DatasetInput,
    JoinSource,
    ModelRef,
    OutputFile,
    TransformJobCreate,
    TransformJobOut,
    TransformProgress,
    UriInput,
)
from opensage.transform.states import ACTIVE, TRANSFORM_JOB, TransformJobStatus

logger = logging.getLogger(__name__)

S = TransformJobStatus
MAX_REASON = 4000
OUTPUT_SUFFIX = ".out"
SHUTDOWN_REASON = "the server shut down while the job was running"
RESERVED_FOLDERS = frozenset(
    {
        "datasets",
        "models",
        "training-jobs",
        "tuning-jobs",
        "endpoints",
        "transform-jobs",
        "monitoring",
    }
)
"""Top-level folders of the artifact store that the platform's capabilities own."""


class TransformService:
    """Transform jobs in the metadata store; the transform scheduler runs them."""

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        registry: RegistryService,
        datasets: DatasetService,
        *,
        workspaces: Path,
        total_slots: int,
        allow_local_paths: bool,
        s3_endpoint_url: str | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.registry = registry
        self.datasets = datasets
        self.workspaces = workspaces
        self.total_slots = total_slots
        self.allow_local_paths = allow_local_paths
        self.s3_endpoint_url = s3_endpoint_url
        self.on_submit: Callable[[], None] = lambda: None
        self.on_stop: Callable[[str], None] = lambda name: None

    # -- submit -----------------------------------------------------------------------
    def create(self, request: TransformJobCreate) -> TransformJobOut:
        """Check a job up front (model, input, output) and queue it."""
        with self.db.reader() as session:
            if session.scalar(select(TransformJob.id).where(TransformJob.name == request.name)):
                raise Conflict(f"transform job {request.name!r} already exists", field="name")
        if request.max_parallel > self.total_slots:
            raise InvalidInput(
                f"the job asks for {request.max_parallel} worker processes; this server "
                f"runs at most {self.total_slots}",
                field="max_parallel",
            )
        version = self.resolve_model(request.model, force=request.force)
        features = version.feature_names or None
        resolved_input, columns = self._check_input(request, features)
        output = self._check_output(request, columns)
        row = TransformJob(
            name=request.name,
            status=S.IN_PROGRESS.value,
            model_group=version.model_group,
            model_version=version.version,
            input=resolved_input,
            output=output,
            batch_size=request.batch_size,
            max_parallel=request.max_parallel,
            join_source=request.join_source.value,
            force=request.force,
            tags=request.tags,
            rows_done=0,
            stop_requested=False,
            created_at=utcnow(),
        )
        try:
            with self.db.transaction() as session:
                if session.scalar(select(TransformJob.id).where(TransformJob.name == request.name)):
                    raise Conflict(f"transform job {request.name!r} already exists", field="name")
                session.add(row)
                session.flush()
                out = self._out(row)
        except IntegrityError:
            raise Conflict(f"transform job {request.name!r} already exists", field="name") from None
        self.on_submit()
        return out

    def resolve_model(self, model: ModelRef, *, force: bool) -> ModelVersionOut:
        """The model version a job uses (the newest approved one by default)."""
        field = "model.model_group" if model.model_version is None else "model.model_version"
        try:
            if model.model_version is None:
                version = self.registry.latest_approved(model.model_group)
            else:
                version = self.registry.get_version(model.model_group, model.model_version)
        except (NotFound, InvalidInput) as exc:
            raise InvalidInput(exc.message, field=field) from None
        if version.approval_status is not ApprovalStatus.APPROVED and not force:
            raise InvalidInput(
                f"{model.model_group} v{version.version} is {version.approval_status.value}; "
                "approve it, or submit with force",
                field="model.model_version",
            )
        return version

    def _check_input(
        self, request: TransformJobCreate, features: list[str] | None
    ) -> tuple[dict[str, Any], list[str] | None]:
        """The input resolved to what the runner reads, and its columns where known."""
        spec = request.input
        if isinstance(spec, DatasetInput):
            try:
                version = self.datasets.get_version(spec.dataset, spec.version)
            except NotFound as exc:
                raise InvalidInput(exc.message, field="input.dataset") from None
            if spec.split is not None:
                names = list(version.splits.fractions) if version.splits else []
                if spec.split not in names:
                    raise InvalidInput(
                        f"dataset {spec.dataset!r} v{version.version} has no split "
                        f"{spec.split!r} (splits: {names})",
                        field="input.split",
                    )
            types = {column.name: column.type for column in version.columns}
            where = f"dataset {spec.dataset!r} v{version.version}"
            table_layout(features, types, version.label, where=where)
            resolved = {
                "dataset": spec.dataset,
                "version": version.version,
                "split": spec.split,
                "label": version.label,
            }
            return resolved, list(types)
        assert isinstance(spec, UriInput)
        files = find_files(
            spec.uri,
            s3_endpoint_url=self.s3_endpoint_url,
            allow_local_paths=self.allow_local_paths,
        )
        layout: FeatureLayout = files_layout(files, spec.content_type, features)
        resolved = {
            "uri": spec.uri,
            "content_type": spec.content_type,
            "split_type": spec.split_type,
            "files": len(files.paths),
        }
        columns = list(layout.columns) if spec.content_type == "text/csv" else None
        return resolved, columns

    def _check_output(
        self, request: TransformJobCreate, input_columns: list[str] | None
    ) -> dict[str, Any]:
        spec = request.output
        joined = request.join_source is JoinSource.INPUT
        if joined and input_columns is not None and PREDICTION in input_columns:
            raise InvalidInput(
                f"the input has a column named {PREDICTION!r}, which join_source input "
                "would overwrite",
                field="join_source",
            )
        if spec.dataset is not None:
            try:
                self.datasets.get(spec.dataset)
            except NotFound:
                return {"dataset": spec.dataset, "dataset_version": None}
            raise Conflict(f"dataset {spec.dataset!r} already exists", field="output.dataset")
        own = f"transform-jobs/{request.name}"
        prefix = (spec.path or f"{own}/output").strip("/")
        try:
            self.store.path(prefix)
        except InvalidInput:
            raise InvalidInput(
                f"{spec.path!r} is not a valid path in the artifact store", field="output.path"
            ) from None
        if prefix.split("/")[0] in RESERVED_FOLDERS and not prefix.startswith(f"{own}/"):
            raise InvalidInput(
                f"{prefix.split('/')[0]}/ belongs to the platform; choose an output path "
                f"outside {sorted(RESERVED_FOLDERS)}",
                field="output.path",
            )
        if self.store.list(prefix):
            raise Conflict(
                f"the output path {prefix!r} already holds files; outputs are never "
                "overwritten, so choose another",
                field="output.path",
            )
        return {"path": prefix, "accept": spec.accept}

    # -- read -------------------------------------------------------------------------
    def get(self, name: str) -> TransformJobOut:
        """One job."""
        with self.db.reader() as session:
            return self._out(self._get(session, name))

    def list_jobs(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        status: TransformJobStatus | None = None,
        name_contains: str | None = None,
    ) -> Page[TransformJobOut]:
        """Jobs, newest first, filtered in SQL."""
        query = newest_first(select(TransformJob), TransformJob, limit, page_token)
        if status is not None:
            query = query.where(TransformJob.status == status.value)
        if name_contains:
            query = query.where(
                TransformJob.name.like(contains_pattern(name_contains), escape="\\")
            )
        with self.db.reader() as session:
            rows = list(session.scalars(query).all())
            return newest_first_page(rows, limit, lambda r: self._out(r))

    def output_files(self, name: str) -> list[OutputFile]:
        """The files a completed job wrote under its output path."""
        prefix = self._output_prefix(name)
        return [
            OutputFile(
                name=key[len(prefix) + 1 :], size=self.store.size(key), url=self.store.url(key)
            )
            for key in self.store.list(prefix)
        ]

    def read_output(self, name: str, file: str) -> Iterator[bytes]:
        """The content of one output file, in chunks."""
        prefix = self._output_prefix(name)
        key = f"{prefix}/{file}"
        if key not in self.store.list(prefix):
            raise NotFound(f"transform job {name!r} has no output file {file!r}", field="file")
        return self.store.iter_chunks(key)

    def _output_prefix(self, name: str) -> str:
        job = self.get(name)
        if job.status is not S.COMPLETED:
            raise Conflict(
                f"transform job {name!r} is {job.status.value}; its output is there once it "
                "has completed",
                field="name",
            )
        if "path" not in job.output:
            raise InvalidInput(
                f"transform job {name!r} wrote dataset {job.output.get('dataset')!r}; read it "
                "through the datasets API",
                field="name",
            )
        return str(job.output["path"])

    # -- stop and delete --------------------------------------------------------------
    def stop(self, name: str) -> TransformJobOut:
        """Stop a job: a queued one at once, a running one by stopping its workers."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            current = TransformJobStatus(job.status)
            if current is S.IN_PROGRESS and job.started_at is None:
                self._set_status(job, S.STOPPED, "stopped before it started")
            elif current is S.IN_PROGRESS:
                self._set_status(job, S.STOPPING, None)
                job.stop_requested = True
            elif current is not S.STOPPING:
                raise Conflict(
                    f"transform job {name!r} has already ended ({current.value})", field="name"
                )
            out = self._out(job)
        self.on_stop(name)
        return out

    def delete(self, name: str) -> None:
        """Delete an ended job; its output (a dataset, or files at a path) stays, except
        files under the job's own default path."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            if TransformJobStatus(job.status) in ACTIVE:
                raise Conflict(
                    f"transform job {name!r} is still {job.status}; stop it first", field="name"
                )
            session.delete(job)
        self.store.delete_prefix(f"transform-jobs/{name}")
        shutil.rmtree(self.workspaces / name, ignore_errors=True)

    # -- used by the scheduler and runner --------------------------------------------
    def claim_next(self, free_slots: int) -> TransformJob | None:
        """Mark the oldest queued job whose workers fit in ``free_slots`` started."""
        with self.db.transaction() as session:
            candidates = session.scalars(
                select(TransformJob)
                .where(
                    TransformJob.status == S.IN_PROGRESS.value,
                    TransformJob.started_at.is_(None),
                    TransformJob.max_parallel <= free_slots,
                )
                .order_by(TransformJob.created_at, TransformJob.id)
                .limit(8)
            ).all()
            for job in candidates:
                claimed = session.execute(
                    update(TransformJob)
                    .where(
                        TransformJob.id == job.id,
                        TransformJob.status == S.IN_PROGRESS.value,
                        TransformJob.started_at.is_(None),
                    )
                    .values(started_at=utcnow())
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(job)
                    session.expunge(job)
                    return job
        return None

    def stop_requested(self, name: str) -> bool:
        """Whether someone asked to stop the job."""
        with self.db.reader() as session:
            return bool(
                session.scalar(select(TransformJob.stop_requested).where(TransformJob.name == name))
            )

    def record_progress(self, name: str, rows_done: int, rows_total: int | None = None) -> None:
        """Store how many rows a running job has predicted (and, once known, of how many)."""
        values: dict[str, Any] = {"rows_done": rows_done}
        if rows_total is not None:
            values["rows_total"] = rows_total
        with self.db.transaction() as session:
            session.execute(update(TransformJob).where(TransformJob.name == name).values(**values))

    def finish(
        self,
        name: str,
        status: TransformJobStatus,
        *,
        reason: str | None = None,
        output: dict[str, Any] | None = None,
    ) -> None:
        """End a job (through the state machine)."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            self._set_status(job, status, reason[:MAX_REASON] if reason else None)
            if output is not None:
                job.output = {**job.output, **output}
            if status is S.COMPLETED and job.rows_total is not None:
                job.rows_done = job.rows_total

    def recover(self, reason: str | None = None) -> list[str]:
        """Jobs a dead (or stopping) server left running: failed with the reason; those
        that were stopping are stopped. Queued jobs stay queued."""
        reason = reason or (
            "the server stopped while the job was running; its worker processes were lost. "
            "Submit it again under a new name"
        )
        touched = []
        with self.db.transaction() as session:
            rows = session.scalars(
                select(TransformJob).where(
                    TransformJob.status.in_([S.IN_PROGRESS.value, S.STOPPING.value]),
                    TransformJob.started_at.is_not(None),
                )
            ).all()
            for job in rows:
                if job.status == S.STOPPING.value:
                    self._set_status(job, S.STOPPED, "the server stopped while the job stopped")
                else:
                    self._set_status(job, S.FAILED, reason)
                touched.append(job.name)
        for name in touched:
            shutil.rmtree(self.workspaces / name, ignore_errors=True)
        return touched

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _get(session: Session, name: str, *, lock: bool = False) -> TransformJob:
        query = select(TransformJob).where(TransformJob.name == name)
        job = session.scalar(query.with_for_update() if lock else query)
        if job is None:
            raise NotFound(f"transform job {name!r} does not exist", field="name")
        return job

    @staticmethod
    def _set_status(job: TransformJob, status: TransformJobStatus, reason: str | None) -> None:
        TRANSFORM_JOB.check(TransformJobStatus(job.status), status)
        job.status = status.value
        if status in (S.FAILED, S.STOPPED):
            job.failure_reason = reason
        if TRANSFORM_JOB.is_terminal(status):
            job.ended_at = utcnow()

    def _out(self, job: TransformJob) -> TransformJobOut:
        output = dict(job.output)
        if "path" in output:
            output["url"] = self.store.url(output["path"])
        return TransformJobOut(
            name=job.name,
            status=TransformJobStatus(job.status),
            failure_reason=job.failure_reason,
            model=ModelRef(model_group=job.model_group, model_version=job.model_version),
            input=job.input,
            output=output,
            batch_size=job.batch_size,
            max_parallel=job.max_parallel,
            join_source=JoinSource(job.join_source),
            force=job.force,
            tags=job.tags,
            progress=TransformProgress(rows_done=job.rows_done, rows_total=job.rows_total),
            created_at=job.created_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
        )
