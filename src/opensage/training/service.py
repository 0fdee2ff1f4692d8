"""The training capability: submit, inspect, stop jobs; read their logs and metrics."""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.algorithms import get_algorithm
from opensage.datasets.service import DatasetService
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.pagination import (
    Page,
    contains_pattern,
    newest_first,
    newest_first_page,
)
from opensage.storage import ArtifactStore
from opensage.storage.uploads import UPLOAD_PREFIX, UploadArea, server_file
from opensage.training.logs import read_log
from opensage.training.models import TrainingJob, TrainingJobTag, TrainingMetric
from opensage.training.schemas import (
    DatasetChannel,
    LogChunk,
    MetricPoint,
    TrainingJobCreate,
    TrainingJobDefinition,
    TrainingJobOut,
    hyperparameter_strings,
)
from opensage.training.states import ACTIVE, TRAINING_JOB, SecondaryStatus, TrainingJobStatus
from opensage.training.workspace import Workspace

logger = logging.getLogger(__name__)

S = TrainingJobStatus
MAX_LOG_CHUNK = 1 << 20


class TrainingService:
    """Training jobs in the metadata store; the scheduler runs them."""

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        uploads: UploadArea,
        datasets: DatasetService,
        *,
        workspaces: Any,
        total_cpu_slots: int,
        allow_local_paths: bool,
    ) -> None:
        self.db = db
        self.store = store
        self.uploads = uploads
        self.datasets = datasets
        self.workspaces = workspaces
        self.total_cpu_slots = total_cpu_slots
        self.allow_local_paths = allow_local_paths
        self.on_submit: Callable[[], None] = lambda: None
        self.on_stop: Callable[[str], None] = lambda name: None
        self.on_end: list[Callable[[str], None]] = []
        """Called with a job's name once it has ended (for the tuner)."""
        self.on_metrics: list[Callable[[str], None]] = []
        """Called with a running job's name when it stored new metric values."""
        self._lock = threading.Lock()

    # -- submit -----------------------------------------------------------------------
    def check_definition(self, definition: TrainingJobDefinition) -> dict[str, Any]:
        """Validate what a job would run (algorithm, hyperparameters, channels, slots);
        return its channels resolved to dataset versions."""
        hyperparameters = hyperparameter_strings(definition.hyperparameters)
        if definition.cpu_slots > self.total_cpu_slots:
            raise InvalidInput(
                f"the job asks for {definition.cpu_slots} CPU slots; this server has "
                f"{self.total_cpu_slots}",
                field="cpu_slots",
            )
        channels = self._check_channels(definition)
        if definition.algorithm is not None:
            algorithm = get_algorithm(definition.algorithm)
            algorithm.parse_hyperparameters(hyperparameters)
            missing = [c for c in algorithm.required_channels if c not in definition.channels]
            if missing:
                raise InvalidInput(
                    f"{definition.algorithm} needs the channel(s) {missing}; "
                    f"given: {sorted(definition.channels)}",
                    field="channels",
                )
            known = set(algorithm.required_channels) | set(algorithm.optional_channels)
            unknown = sorted(set(definition.channels) - known)
            if unknown:
                raise InvalidInput(
                    f"{definition.algorithm} does not read the channel(s) {unknown}; "
                    f"it reads {sorted(known)}",
                    field="channels",
                )
        return channels

    def create(
        self, request: TrainingJobCreate, *, staged_script: dict[str, Any] | None = None
    ) -> TrainingJobOut:
        """Validate a job up front (algorithm, hyperparameters, channels) and queue it.

        ``staged_script`` is code already in the artifact store (a tuning job stages its
        script once for all its trials); otherwise the request's script is staged here.
        """
        hyperparameters = hyperparameter_strings(request.hyperparameters)
        channels = self.check_definition(request)
        script: dict[str, Any] | None = staged_script
        owns_script = False
        if request.script is not None and script is None:
            script = self.stage_script(
                f"training-jobs/{request.name}", request.script.source, request.script.entry_point
            )
            owns_script = True
        now = utcnow()
        row = TrainingJob(
            name=request.name,
            status=S.PENDING.value,
            secondary_status=SecondaryStatus.PENDING.value,
            algorithm=request.algorithm,
            script=script,
            hyperparameters=hyperparameters,
            channels=channels,
            cpu_slots=request.cpu_slots,
            max_runtime_s=request.max_runtime_s,
            max_retry_attempts=request.max_retry_attempts,
            attempt=0,
            metric_definitions=[m.model_dump() for m in request.metric_definitions],
            environment=request.environment,
            tags=request.tags,
            status_transitions=[_transition(SecondaryStatus.PENDING, now, "queued")],
            final_metrics={},
            created_at=now,
        )
        try:
            with self.db.transaction() as session:
                if session.scalar(select(TrainingJob.id).where(TrainingJob.name == request.name)):
                    raise Conflict(f"training job {request.name!r} already exists", field="name")
                session.add(row)
                session.flush()
                session.add_all(
                    TrainingJobTag(job_id=row.id, key=key, value=value)
                    for key, value in request.tags.items()
                )
                out = self._out(row)
        except IntegrityError:
            raise Conflict(f"training job {request.name!r} already exists", field="name") from None
        except Conflict:
            if owns_script and script is not None:
                self.store.delete_prefix(script["key"].rsplit("/", 1)[0])
            raise
        if owns_script and request.script is not None:
            self.consume_upload(request.script.source)
        self.on_submit()
        return out

    # -- read -------------------------------------------------------------------------
    def get(self, name: str) -> TrainingJobOut:
        """One job."""
        with self.db.reader() as session:
            return self._out(self._get(session, name))

    def list_jobs(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        status: TrainingJobStatus | None = None,
        name_contains: str | None = None,
        tag: str | None = None,
    ) -> Page[TrainingJobOut]:
        """Jobs, newest first, filtered in SQL (``tag`` is ``KEY`` or ``KEY=VALUE``)."""
        query = newest_first(select(TrainingJob), TrainingJob, limit, page_token)
        if status is not None:
            query = query.where(TrainingJob.status == status.value)
        if name_contains:
            query = query.where(TrainingJob.name.like(contains_pattern(name_contains), escape="\\"))
        if tag:
            key, has_value, value = tag.partition("=")
            tagged = select(TrainingJobTag.job_id).where(TrainingJobTag.key == key)
            if has_value:
                tagged = tagged.where(TrainingJobTag.value == value)
            query = query.where(TrainingJob.id.in_(tagged))
        with self.db.reader() as session:
            rows = list(session.scalars(query).all())
            return newest_first_page(rows, limit, lambda r: self._out(r))

    def model_prefix(self, name: str) -> str | None:
        """Where the job's model files are in the artifact store (None without a model)."""
        with self.db.reader() as session:
            return self._get(session, name).model_artifact

    def metrics(
        self, name: str, metric: str | None = None, *, after_step: int | None = None
    ) -> list[MetricPoint]:
        """Every stored value of the job's metrics (or of one), by name and step; with
        ``after_step``, only the values of later steps."""
        with self.db.reader() as session:
            job = self._get(session, name)
            query = (
                select(TrainingMetric)
                .where(TrainingMetric.job_id == job.id)
                .order_by(TrainingMetric.name, TrainingMetric.step, TrainingMetric.id)
            )
            if metric:
                query = query.where(TrainingMetric.name == metric)
            if after_step is not None:
                query = query.where(TrainingMetric.step > after_step)
            return [
                MetricPoint(name=m.name, step=m.step, value=m.value, at=m.at)
                for m in session.scalars(query)
            ]

    def logs(self, name: str, offset: int = 0, limit: int = MAX_LOG_CHUNK) -> LogChunk:
        """Part of the job's log from byte ``offset``: live while it runs, stored after."""
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        with self.db.reader() as session:
            job = self._get(session, name)
            ended = TrainingJobStatus(job.status) not in ACTIVE
            attempt = job.attempt
        local = Workspace(self.workspaces / name).log_file
        data = read_log(self.store, name, attempt, local, offset, limit)
        size = offset + len(data)
        complete = ended and len(data) < limit
        return LogChunk(
            text=data.decode("utf-8", errors="replace"), next_offset=size, complete=complete
        )

    # -- stop -------------------------------------------------------------------------
    def stop(self, name: str) -> TrainingJobOut:
        """Stop a job: a queued one at once, a running one by SIGTERM then SIGKILL."""
        ended = False
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            current = TrainingJobStatus(job.status)
            if current is S.PENDING:
                ended = True
                self._set_status(
                    session, job, S.STOPPED, SecondaryStatus.STOPPED, "stopped before it started"
                )
                job.ended_at = utcnow()
            elif current is S.IN_PROGRESS:
                self._set_status(
                    session, job, S.STOPPING, SecondaryStatus.STOPPING, "stop requested"
                )
                job.stop_requested = True
            elif current is S.STOPPING:
                pass
            else:
                raise Conflict(
                    f"training job {name!r} has already ended ({current.value})", field="name"
                )
            out = self._out(job)
        self.on_stop(name)
        if ended:
            self._ended(name)
        return out

    def delete(self, name: str) -> None:
        """Delete an ended job with its metrics, logs, model and workspace."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            if TrainingJobStatus(job.status) in ACTIVE:
                raise Conflict(
                    f"training job {name!r} is still {job.status}; stop it first", field="name"
                )
            session.delete(job)
        self.store.delete_prefix(f"training-jobs/{name}")
        shutil.rmtree(self.workspaces / name, ignore_errors=True)

    # -- used by the scheduler and runner --------------------------------------------
    def claim_next(self, free_slots: int) -> TrainingJob | None:
        """Move the oldest pending job that fits in ``free_slots`` to InProgress, atomically."""
        with self.db.transaction() as session:
            candidates = session.scalars(
                select(TrainingJob)
                .where(TrainingJob.status == S.PENDING.value, TrainingJob.cpu_slots <= free_slots)
                .order_by(TrainingJob.created_at, TrainingJob.id)
                .limit(8)
            ).all()
            for job in candidates:
                now = utcnow()
                claimed = session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job.id, TrainingJob.status == S.PENDING.value)
                    .values(status=S.IN_PROGRESS.value)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(job)
                    job.attempt += 1
                    job.started_at = job.started_at or now
                    self._add_transition(
                        job, SecondaryStatus.STARTING, now, f"attempt {job.attempt}"
                    )
                    job.secondary_status = SecondaryStatus.STARTING.value
                    session.flush()
                    session.expunge(job)
                    return job
        return None

    def advance(self, name: str, secondary: SecondaryStatus, message: str = "") -> None:
        """Record a new secondary status of a running job."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            job.secondary_status = secondary.value
            self._add_transition(job, secondary, utcnow(), message)

    def finish(
        self,
        name: str,
        status: TrainingJobStatus,
        secondary: SecondaryStatus,
        *,
        reason: str | None = None,
        model_artifact: str | None = None,
    ) -> None:
        """End a job (through the state machine) with its final metrics."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            self._set_status(session, job, status, secondary, reason or "")
            job.failure_reason = reason
            job.model_artifact = model_artifact
            job.ended_at = utcnow()
            job.final_metrics = self._final_metrics(session, job)
        self._ended(name)

    def _ended(self, name: str) -> None:
        for listener in self.on_end:
            try:
                listener(name)
            except Exception:
                logger.exception("a listener failed on the end of training job %s", name)

    def requeue(self, name: str, reason: str) -> None:
        """Put an interrupted job back in the queue for another attempt."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            job.status = S.PENDING.value
            job.secondary_status = SecondaryStatus.PENDING.value
            self._add_transition(job, SecondaryStatus.PENDING, utcnow(), reason)

    def stop_requested(self, name: str) -> bool:
        """Whether someone asked to stop the job."""
        with self.db.reader() as session:
            return bool(
                session.scalar(select(TrainingJob.stop_requested).where(TrainingJob.name == name))
            )

    def record_metrics(self, name: str, points: list[tuple[str, int, float, datetime]]) -> None:
        """Append metric values of a running job."""
        if not points:
            return
        with self.db.transaction() as session:
            job_id = session.scalar(select(TrainingJob.id).where(TrainingJob.name == name))
            if job_id is None:
                return
            # One executemany, not an ORM object per value: a job may log thousands.
            session.execute(
                insert(TrainingMetric),
                [
                    {"job_id": job_id, "name": n, "step": s, "value": v, "at": at}
                    for n, s, v, at in points
                ],
            )
        for listener in self.on_metrics:
            listener(name)

    def recover(self) -> list[str]:
        """At start: jobs that were running when the server died are retried or failed."""
        touched = []
        with self.db.reader() as session:
            names = session.scalars(
                select(TrainingJob.name).where(
                    TrainingJob.status.in_([S.IN_PROGRESS.value, S.STOPPING.value])
                )
            ).all()
        for name in names:
            with self.db.transaction() as session:
                job = self._get(session, name, lock=True)
                if job.status == S.STOPPING.value:
                    self._set_status(session, job, S.STOPPED, SecondaryStatus.STOPPED,
                                     "the server stopped while the job was stopping")  # fmt: skip
                    job.ended_at = utcnow()
                elif job.attempt <= job.max_retry_attempts:
                    job.status = S.PENDING.value
                    job.secondary_status = SecondaryStatus.PENDING.value
                    self._add_transition(
                        job, SecondaryStatus.INTERRUPTED, utcnow(),
                        "the server stopped while the job was running; retrying",
                    )  # fmt: skip
                else:
                    reason = (
                        "the server stopped while the job was running (attempt "
                        f"{job.attempt} of {job.max_retry_attempts + 1}); its process was lost"
                    )
                    self._set_status(session, job, S.FAILED, SecondaryStatus.INTERRUPTED, reason)
                    job.failure_reason = reason
                    job.ended_at = utcnow()
                touched.append(name)
                ended = TrainingJobStatus(job.status) not in ACTIVE
            if ended:
                self._ended(name)
        return touched

    # -- internals --------------------------------------------------------------------
    def _check_channels(self, request: TrainingJobDefinition) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for channel, spec in request.channels.items():
            if isinstance(spec, DatasetChannel):
                try:
                    version = self.datasets.get_version(spec.dataset, spec.version)
                except NotFound as exc:
                    raise InvalidInput(
                        f"channel {channel!r}: {exc.message}", field=f"channels.{channel}"
                    ) from None
                if spec.split is not None:
                    names = list(version.splits.fractions) if version.splits else []
                    if spec.split not in names:
                        raise InvalidInput(
                            f"channel {channel!r}: dataset {spec.dataset!r} v{version.version} "
                            f"has no split {spec.split!r} (splits: {names})",
                            field=f"channels.{channel}",
                        )
                resolved[channel] = {
                    "dataset": spec.dataset,
                    "version": version.version,
                    "split": spec.split,
                    "label": version.label,
                }
            else:
                uri = spec.uri
                if not uri.startswith("s3://"):
                    if not self.allow_local_paths:
                        raise InvalidInput(
                            f"channel {channel!r}: this server does not read paths on its own "
                            "machine (auth is on); use a dataset or an s3:// URI",
                            field=f"channels.{channel}",
                        )
                    if not Path(uri).is_absolute() or not Path(uri).exists():
                        raise InvalidInput(
                            f"channel {channel!r}: no such file or folder {uri!r} "
                            "(give an absolute path)",
                            field=f"channels.{channel}",
                        )
                resolved[channel] = {"uri": uri, "content_type": spec.content_type}
        return resolved

    def stage_script(self, prefix: str, source: str, entry_point: str | None) -> dict[str, Any]:
        """Copy the user's code into the artifact store under ``prefix``, where jobs read it."""
        if source.startswith(UPLOAD_PREFIX):
            path, filename = self.uploads.resolve(source)
        else:
            if not self.allow_local_paths:
                raise InvalidInput(
                    "this server does not read paths on its own machine", field="script.source"
                )
            path = server_file(Path(source), "script.source")
            filename = path.name
        is_archive = filename.endswith((".tar.gz", ".tgz"))
        if not is_archive and not filename.endswith(".py"):
            raise InvalidInput(
                "a script is a .py file or a .tar.gz of a source folder", field="script.source"
            )
        if is_archive and not entry_point:
            raise InvalidInput(
                "name the entry_point script inside the source archive", field="script.entry_point"
            )
        if entry_point and (entry_point.startswith("/") or ".." in entry_point.split("/")):
            raise InvalidInput(
                "entry_point must be a relative path inside the source", field="script.entry_point"
            )
        stored_name = "sourcedir.tar.gz" if is_archive else filename
        key = f"{prefix}/source-{uuid.uuid4().hex[:12]}/{stored_name}"
        self.store.put_file(path, key)
        return {"key": key, "archive": is_archive, "entry_point": entry_point or filename}

    def consume_upload(self, source: str) -> None:
        """Discard the upload a script was staged from (it is in the store now)."""
        if source.startswith(UPLOAD_PREFIX):
            self.uploads.discard(source)

    @staticmethod
    def _get(session: Session, name: str, *, lock: bool = False) -> TrainingJob:
        """The job called ``name``; ``lock`` for a read-modify-write (row lock on servers
        that have them: SQLite serializes write transactions instead)."""
        query = select(TrainingJob).where(TrainingJob.name == name)
        job = session.scalar(query.with_for_update() if lock else query)
        if job is None:
            raise NotFound(f"training job {name!r} does not exist", field="name")
        return job

    @staticmethod
    def _add_transition(
        job: TrainingJob, status: SecondaryStatus, at: datetime, message: str
    ) -> None:
        transitions = [dict(t) for t in job.status_transitions]
        if transitions and transitions[-1].get("end_time") is None:
            transitions[-1]["end_time"] = at.isoformat()
        transitions.append(_transition(status, at, message))
        job.status_transitions = transitions

    def _set_status(
        self,
        session: Session,
        job: TrainingJob,
        status: TrainingJobStatus,
        secondary: SecondaryStatus,
        message: str,
    ) -> None:
        TRAINING_JOB.check(TrainingJobStatus(job.status), status)
        job.status = status.value
        job.secondary_status = secondary.value
        now = utcnow()
        self._add_transition(job, secondary, now, message)
        if TRAINING_JOB.is_terminal(status):
            transitions = [dict(t) for t in job.status_transitions]
            transitions[-1]["end_time"] = now.isoformat()
            job.status_transitions = transitions

    @staticmethod
    def _final_metrics(session: Session, job: TrainingJob) -> dict[str, float]:
        rows = session.execute(
            select(TrainingMetric.name, TrainingMetric.value)
            .where(TrainingMetric.job_id == job.id)
            .order_by(TrainingMetric.step, TrainingMetric.id)
        ).all()
        return {name: value for name, value in rows}

    def _out(self, job: TrainingJob) -> TrainingJobOut:
        return TrainingJobOut(
            name=job.name,
            status=TrainingJobStatus(job.status),
            secondary_status=SecondaryStatus(job.secondary_status),
            failure_reason=job.failure_reason,
            algorithm=job.algorithm,
            script={k: v for k, v in job.script.items() if k != "key"} if job.script else None,
            hyperparameters=job.hyperparameters,
            channels=job.channels,
            cpu_slots=job.cpu_slots,
            max_runtime_s=job.max_runtime_s,
            max_retry_attempts=job.max_retry_attempts,
            attempt=job.attempt,
            metric_definitions=job.metric_definitions,
            environment=job.environment,
            tags=job.tags,
            status_transitions=job.status_transitions,
            final_metrics=job.final_metrics,
            model_artifact_url=self.store.url(job.model_artifact) if job.model_artifact else None,
            created_at=job.created_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
        )


def _transition(status: SecondaryStatus, at: datetime, message: str) -> dict[str, Any]:
    return {
        "status": status.value,
        "start_time": at.isoformat(),
        "end_time": None,
        "message": message,
    }
