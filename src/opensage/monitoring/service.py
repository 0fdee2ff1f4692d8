"""The monitoring capability: baselines, schedules on endpoints, executions and their
reports, ground truth; the monitor thread (``monitor.py``) drives the executions."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from croniter import croniter  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.datasets.service import DatasetService
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound, OpenSageError
from opensage.monitoring import predictions as model_predictions
from opensage.monitoring.baseline import (
    PREDICTION,
    compute_baseline,
    describe,
    read_references,
    reference_bytes,
    suggest,
)
from opensage.monitoring.captured import read_window
from opensage.monitoring.checks import check_window
from opensage.monitoring.models import MonitoringBaseline, MonitoringExecution, MonitoringSchedule
from opensage.monitoring.quality import (
    check_quality,
    join,
    parse_ground_truth,
    read_ground_truth,
    score,
    store_ground_truth,
    suggest_bounds,
)
from opensage.monitoring.schemas import (
    BaselineCreate,
    BaselineOut,
    BaselineSpec,
    Constraints,
    ExecutionSummary,
    GroundTruthResult,
    MonitoringExecutionOut,
    MonitoringScheduleCreate,
    MonitoringScheduleOut,
    Report,
    RetrainingConfig,
    RunRequest,
    ScheduleUpdate,
    parse_every,
)
from opensage.monitoring.states import (
    BASELINE,
    EXECUTION,
    SCHEDULE,
    BaselineStatus,
    ExecutionStatus,
    ScheduleStatus,
)
from opensage.pagination import Page, contains_pattern, newest_first, newest_first_page
from opensage.registry.service import RegistryService
from opensage.serving.capture import FLUSH_S as CAPTURE_FLUSH_S
from opensage.serving.schemas import EndpointOut
from opensage.serving.service import EndpointService
from opensage.storage import ArtifactStore
from opensage.transform.service import TransformService
from opensage.transform.states import TransformJobStatus

logger = logging.getLogger(__name__)

B = BaselineStatus
S = ScheduleStatus
X = ExecutionStatus
PROBLEM_TYPES = ("regression", "binary", "multiclass")
MAX_GROUND_TRUTH_BYTES = 64 * 1024 * 1024
CAPTURE_DELAY_S = 2 * CAPTURE_FLUSH_S
"""An execution starts this long after its window ends: endpoint workers write what they
captured every ``CAPTURE_FLUSH_S``, so the window's last requests are in the store."""


class MonitoringService:
    """Baselines, schedules and executions in the metadata store."""

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        datasets: DatasetService,
        registry: RegistryService,
        endpoints: EndpointService,
        transform: TransformService,
    ) -> None:
        self.db = db
        self.store = store
        self.datasets = datasets
        self.registry = registry
        self.endpoints = endpoints
        self.transform = transform
        self.on_change: Callable[[], None] = lambda: None
        """Wakes the monitor thread (set by it)."""
        self.on_execution_end: list[Callable[[str, int], None]] = []
        self._references: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    # -- baselines --------------------------------------------------------------------
    def create_baseline(self, request: BaselineCreate) -> BaselineOut:
        """Statistics and constraints of a dataset version now; the model's predictions
        on it (when a model is named) by a transform job, after which it is Completed."""
        try:
            version = self.datasets.get_version(request.dataset, request.version)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="dataset") from None
        if request.split is not None:
            names = list(version.splits.fractions) if version.splits else []
            if request.split not in names:
                raise InvalidInput(
                    f"dataset {request.dataset!r} v{version.version} has no split "
                    f"{request.split!r} (splits: {names})",
                    field="split",
                )
        model = None
        if request.model_group is not None:
            try:
                model = self.registry.get_version(request.model_group, request.model_version)
            except NotFound as exc:
                raise InvalidInput(exc.message, field="model_group") from None
        with self.db.reader() as session:
            if self._find_baseline(session, request.name) is not None:
                raise Conflict(f"baseline {request.name!r} already exists", field="name")
        with tempfile.TemporaryDirectory(prefix="opensage-baseline-") as folder:
            path = Path(folder) / "data.parquet"
            self.datasets.materialize(request.dataset, version.version, request.split, path)
            features, statistics, constraints, reference = compute_baseline(
                path, request.features, version.label
            )
        key = f"monitoring/baselines/{request.name}/reference-{uuid.uuid4().hex[:8]}.parquet"
        self.store.put_bytes(reference, key)
        now = utcnow()
        problem = model.problem_type if model and model.problem_type in PROBLEM_TYPES else None
        row = MonitoringBaseline(
            name=request.name,
            status=(B.IN_PROGRESS if model else B.COMPLETED).value,
            dataset=request.dataset,
            dataset_version=version.version,
            split=request.split,
            label=version.label,
            features=features,
            model_group=model.model_group if model else None,
            model_version=model.version if model else None,
            problem_type=problem,
            statistics=statistics,
            constraints=constraints.model_dump(mode="json"),
            reference=key,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.db.transaction() as session:
                session.add(row)
        except IntegrityError:
            self.store.delete_file(key)
            raise Conflict(f"baseline {request.name!r} already exists", field="name") from None
        if model is not None:
            try:
                job = model_predictions.start_predictions(
                    self.transform,
                    f"{request.name}-predictions",
                    model_group=model.model_group,
                    model_version=model.version,
                    dataset=request.dataset,
                    version=version.version,
                    split=request.split,
                )
            except OpenSageError as exc:
                self._end_baseline(request.name, B.FAILED, f"predictions: {exc.message}")
            else:
                with self.db.transaction() as session:
                    self._baseline(session, request.name).transform_job = job
                self.on_change()
        return self.get_baseline(request.name)

    def get_baseline(self, name: str) -> BaselineOut:
        with self.db.reader() as session:
            return _baseline_out(self._baseline(session, name))

    def list_baselines(
        self, *, limit: int = 50, page_token: str | None = None, name_contains: str | None = None
    ) -> Page[BaselineOut]:
        """Baselines, newest first."""
        query = newest_first(select(MonitoringBaseline), MonitoringBaseline, limit, page_token)
        if name_contains:
            query = query.where(
                MonitoringBaseline.name.like(contains_pattern(name_contains), escape="\\")
            )
        with self.db.reader() as session:
            return newest_first_page(list(session.scalars(query)), limit, _baseline_out)

    def update_constraints(self, name: str, constraints: Constraints) -> BaselineOut:
        """Replace a baseline's constraints (every feature must be one of the baseline's)."""
        with self.db.transaction() as session:
            row = self._baseline(session, name)
            unknown = sorted({f.name for f in constraints.features} - set(row.features))
            if unknown:
                raise InvalidInput(
                    f"the baseline has no feature(s) {unknown}; it has {row.features}",
                    field="features",
                )
            row.constraints = constraints.model_dump(mode="json")
            row.updated_at = utcnow()
            return _baseline_out(row)

    def delete_baseline(self, name: str) -> None:
        with self.db.transaction() as session:
            row = self._baseline(session, name)
            users = session.scalars(
                select(MonitoringSchedule.name).where(MonitoringSchedule.baseline == name)
            ).all()
            if users:
                raise Conflict(
                    f"baseline {name!r} is used by monitoring schedule(s) {list(users)}",
                    field="name",
                )
            session.delete(row)
        self.store.delete_prefix(f"monitoring/baselines/{name}")

    def pending_baselines(self) -> list[str]:
        with self.db.reader() as session:
            return list(
                session.scalars(
                    select(MonitoringBaseline.name).where(
                        MonitoringBaseline.status == B.IN_PROGRESS.value
                    )
                )
            )

    def advance_baseline(self, name: str) -> None:
        """Finish a baseline whose predictions job has ended."""
        baseline = self.get_baseline(name)
        if baseline.transform_job is None:
            return
        job = self.transform.get(baseline.transform_job)
        if job.status is not TransformJobStatus.COMPLETED:
            if job.status in (TransformJobStatus.FAILED, TransformJobStatus.STOPPED):
                self._end_baseline(
                    name, B.FAILED, f"predictions: {job.failure_reason or job.status.value}"
                )
            return
        try:
            values = model_predictions.read_predictions(self.store, job.name)
            self._add_prediction_baseline(baseline, values)
        except Exception as exc:  # a broken output must not kill the monitor
            logger.exception("could not finish baseline %s", name)
            self._end_baseline(name, B.FAILED, f"predictions: {exc}")

    def _add_prediction_baseline(self, baseline: BaselineOut, values: np.ndarray) -> None:
        problem = baseline.problem_type
        if problem == "multiclass" and values.shape[1] > 1:
            column, kind = np.argmax(values, axis=1).astype(np.float64), "integral"
        else:
            column, kind = values[:, 0], ("fractional" if problem != "multiclass" else "integral")
        stats, reference = describe(PREDICTION, kind, column)  # type: ignore[arg-type]
        constraints = baseline.constraints.model_copy(deep=True)
        constraints.prediction = suggest(stats).model_copy(update={"completeness": 0.0})
        statistics = {**baseline.statistics, PREDICTION: stats}
        if problem is not None and baseline.label is not None:
            truth = model_predictions.read_labels(
                self.datasets,
                baseline.dataset,
                baseline.dataset_version,
                baseline.split,
                baseline.label,
            )
            if truth.size == values.shape[0]:
                quality = score(problem, truth, values)
                statistics["model_quality"] = quality.model_dump(mode="json")
                constraints.model_quality = suggest_bounds(quality)
        references = read_references(self.store.read_bytes(self._reference_key(baseline.name)))
        references[PREDICTION] = reference
        key = f"monitoring/baselines/{baseline.name}/reference-{uuid.uuid4().hex[:8]}.parquet"
        self.store.put_bytes(reference_bytes(references), key)
        with self.db.transaction() as session:
            row = self._baseline(session, baseline.name)
            BASELINE.check(B(row.status), B.COMPLETED)
            old = row.reference
            row.status = B.COMPLETED.value
            row.statistics = statistics
            row.constraints = constraints.model_dump(mode="json")
            row.reference = key
            row.updated_at = utcnow()
        self.store.delete_file(old)

    def _end_baseline(self, name: str, status: BaselineStatus, reason: str | None) -> None:
        with self.db.transaction() as session:
            row = self._baseline(session, name)
            BASELINE.check(B(row.status), status)
            row.status = status.value
            row.failure_reason = reason
            row.updated_at = utcnow()

    def _reference_key(self, name: str) -> str:
        with self.db.reader() as session:
            return self._baseline(session, name).reference

    def references(self, name: str) -> dict[str, np.ndarray]:
        """A baseline's reference samples (cached by file: a new file on every change)."""
        key = self._reference_key(name)
        cached = self._references.get((name, key))
        if cached is None:
            cached = read_references(self.store.read_bytes(key))
            self._references = {k: v for k, v in self._references.items() if k[0] != name} | {
                (name, key): cached
            }
        return cached

    # -- schedules --------------------------------------------------------------------
    def create_schedule(self, request: MonitoringScheduleCreate) -> MonitoringScheduleOut:
        """Check the endpoint (it must capture data) and the baseline (computing one
        from a dataset if asked), then schedule the first execution."""
        try:
            endpoint = self.endpoints.get(request.endpoint)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="endpoint") from None
        if not endpoint.data_capture.enabled:
            raise InvalidInput(
                f"endpoint {request.endpoint!r} does not capture data; update it with "
                "data_capture enabled to monitor it",
                field="endpoint",
            )
        if request.cron is not None and not croniter.is_valid(request.cron):
            raise InvalidInput(f"{request.cron!r} is not a cron expression", field="cron")
        with self.db.reader() as session:
            if self._find_schedule(session, request.name) is not None:
                raise Conflict(f"monitoring schedule {request.name!r} already exists", field="name")
        group, version = _main_model(endpoint)
        if isinstance(request.baseline, BaselineSpec):
            baseline = self.create_baseline(
                BaselineCreate(
                    name=f"{request.name[:53]}-baseline",
                    dataset=request.baseline.dataset,
                    version=request.baseline.version,
                    split=request.baseline.split,
                    features=request.baseline.features,
                    model_group=group,
                    model_version=version,
                )
            )
        else:
            try:
                baseline = self.get_baseline(request.baseline)
            except NotFound as exc:
                raise InvalidInput(exc.message, field="baseline") from None
        problem = request.problem_type or baseline.problem_type
        if problem is None:
            model = self.registry.get_version(group, version)
            problem = model.problem_type if model.problem_type in PROBLEM_TYPES else None  # type: ignore[assignment]
        now = utcnow()
        every = parse_every(request.every) if request.every is not None else None
        row = MonitoringSchedule(
            name=request.name,
            endpoint=request.endpoint,
            baseline=baseline.name,
            status=S.SCHEDULED.value,
            every_s=every,
            cron=request.cron,
            problem_type=problem,
            webhook_url=request.webhook_url,
            retraining=request.retraining.model_dump(mode="json") if request.retraining else None,
            tags=request.tags,
            next_run_at=_next_run(every, request.cron, now),
            last_window_end=now - timedelta(seconds=_interval(every, request.cron, now)),
            executions_count=0,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.db.transaction() as session:
                session.add(row)
                session.flush()
                out = self._schedule_out(session, row)
        except IntegrityError:
            raise Conflict(
                f"monitoring schedule {request.name!r} already exists", field="name"
            ) from None
        self.on_change()
        return out

    def get_schedule(self, name: str) -> MonitoringScheduleOut:
        with self.db.reader() as session:
            return self._schedule_out(session, self._schedule(session, name))

    def list_schedules(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        endpoint: str | None = None,
        status: ScheduleStatus | None = None,
        name_contains: str | None = None,
    ) -> Page[MonitoringScheduleOut]:
        """Schedules, newest first."""
        query = newest_first(select(MonitoringSchedule), MonitoringSchedule, limit, page_token)
        if endpoint is not None:
            query = query.where(MonitoringSchedule.endpoint == endpoint)
        if status is not None:
            query = query.where(MonitoringSchedule.status == status.value)
        if name_contains:
            query = query.where(
                MonitoringSchedule.name.like(contains_pattern(name_contains), escape="\\")
            )
        with self.db.reader() as session:
            rows = list(session.scalars(query))
            return newest_first_page(rows, limit, lambda r: self._schedule_out(session, r))

    def update_schedule(self, name: str, update: ScheduleUpdate) -> MonitoringScheduleOut:
        """Change the webhook and the retraining of a schedule (fields sent replace)."""
        with self.db.transaction() as session:
            row = self._schedule(session, name)
            if "webhook_url" in update.model_fields_set:
                row.webhook_url = update.webhook_url
            if "retraining" in update.model_fields_set:
                row.retraining = (
                    update.retraining.model_dump(mode="json") if update.retraining else None
                )
            row.updated_at = utcnow()
            return self._schedule_out(session, row)

    def set_schedule_status(self, name: str, status: ScheduleStatus) -> MonitoringScheduleOut:
        """Stop a schedule, or start it again (its next run counts from now)."""
        with self.db.transaction() as session:
            row = self._schedule(session, name)
            current = S(row.status)
            if current is not status:
                SCHEDULE.check(current, status)
                row.status = status.value
                now = utcnow()
                row.next_run_at = (
                    _next_run(row.every_s, row.cron, now) if status is S.SCHEDULED else None
                )
                row.updated_at = now
            out = self._schedule_out(session, row)
        self.on_change()
        return out

    def delete_schedule(self, name: str) -> None:
        """Forget a schedule and its executions (its baseline stays)."""
        with self.db.transaction() as session:
            row = self._schedule(session, name)
            running = session.scalar(
                select(MonitoringExecution.number).where(
                    MonitoringExecution.schedule_id == row.id,
                    MonitoringExecution.status == X.IN_PROGRESS.value,
                )
            )
            if running is not None:
                raise Conflict(
                    f"execution {running} of {name!r} is running; delete it when it has ended",
                    field="name",
                )
            session.delete(row)

    # -- executions -------------------------------------------------------------------
    def run_now(self, name: str, request: RunRequest | None = None) -> MonitoringExecutionOut:
        """Queue an execution over the given window, or from the end of the last one to
        now."""
        request = request or RunRequest()
        with self.db.transaction() as session:
            row = self._schedule(session, name)
            now = utcnow()
            end = request.window_end or now
            start = request.window_start or row.last_window_end or row.created_at
            if start >= end:
                raise InvalidInput(
                    f"the window would be empty: it starts {start.isoformat()}, after its end",
                    field="window_start",
                )
            if request.window_start is None and request.window_end is None:
                row.last_window_end = end
            execution = self._add_execution(session, row, "manual", start, end)
            out = self._execution_out(row.name, execution)
        self.on_change()
        return out

    def enqueue_due(self, now: datetime | None = None) -> int:
        """Queue an execution for every schedule whose time has come; how many."""
        now = now or utcnow()
        count = 0
        with self.db.transaction() as session:
            due = session.scalars(
                select(MonitoringSchedule).where(
                    MonitoringSchedule.status == S.SCHEDULED.value,
                    MonitoringSchedule.next_run_at <= now,
                )
            ).all()
            for row in due:
                start = row.last_window_end or row.created_at
                self._add_execution(session, row, "schedule", start, now)
                row.last_window_end = now
                row.next_run_at = _next_run(row.every_s, row.cron, now)
                count += 1
        return count

    def next_due(self) -> datetime | None:
        with self.db.reader() as session:
            return session.scalar(
                select(MonitoringSchedule.next_run_at)
                .where(MonitoringSchedule.status == S.SCHEDULED.value)
                .order_by(MonitoringSchedule.next_run_at)
                .limit(1)
            )

    def claim_next_execution(self) -> str | None:
        """Mark the oldest pending execution whose window's capture is written InProgress;
        its id."""
        ready = utcnow() - timedelta(seconds=CAPTURE_DELAY_S)
        with self.db.transaction() as session:
            row = session.scalars(
                select(MonitoringExecution)
                .where(
                    MonitoringExecution.status == X.PENDING.value,
                    MonitoringExecution.window_end <= ready,
                )
                .order_by(MonitoringExecution.created_at, MonitoringExecution.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            row.status = EXECUTION.check(X.PENDING, X.IN_PROGRESS).value
            row.started_at = utcnow()
            return row.id

    def run_execution(self, execution_id: str) -> None:
        """Read the window, run the checks, store the report; then alert."""
        with self.db.reader() as session:
            execution = session.get(MonitoringExecution, execution_id)
            assert execution is not None
            schedule = session.get(MonitoringSchedule, execution.schedule_id)
            assert schedule is not None
            name, endpoint, baseline_name = schedule.name, schedule.endpoint, schedule.baseline
            problem = schedule.problem_type
            start, end = execution.window_start, execution.window_end
        try:
            report = self.check(endpoint, baseline_name, start, end, problem)
        except Exception as exc:
            if not isinstance(exc, OpenSageError):
                logger.exception("monitoring execution of %s failed", name)
            message = exc.message if isinstance(exc, OpenSageError) else f"{exc}"
            self._finish_execution(execution_id, X.FAILED, None, message)
            return
        status = X.COMPLETED_WITH_VIOLATIONS if report.violations else X.COMPLETED
        self._finish_execution(execution_id, status, report, None)

    def check(
        self,
        endpoint: str,
        baseline_name: str,
        start: datetime,
        end: datetime,
        problem: str | None,
    ) -> Report:
        """The report of an endpoint's traffic in [start, end) against a baseline."""
        baseline = self.get_baseline(baseline_name)
        window = read_window(self.store, endpoint, start, end, baseline.features)
        report = check_window(
            window, baseline.statistics, baseline.constraints, self.references(baseline_name)
        )
        if problem in PROBLEM_TYPES and window.rows:
            truth, predicted, notes = join(window, read_ground_truth(self.store, endpoint, start))
            report.notes.extend(notes)
            if truth.size:
                quality = score(problem, truth, predicted)  # type: ignore[arg-type]
                report.model_quality = quality
                report.violations.extend(check_quality(quality, baseline.constraints.model_quality))
        if baseline.status is B.IN_PROGRESS:
            report.notes.append("the baseline's predictions are still being computed")
        try:
            self.endpoints.get(endpoint)
        except NotFound:
            report.notes.append(f"endpoint {endpoint!r} no longer exists")
        return report

    def _finish_execution(
        self,
        execution_id: str,
        status: ExecutionStatus,
        report: Report | None,
        reason: str | None,
    ) -> None:
        with self.db.transaction() as session:
            row = session.get(MonitoringExecution, execution_id)
            if row is None:  # the schedule was deleted meanwhile
                return
            row.status = EXECUTION.check(X(row.status), status).value
            row.report = report.model_dump(mode="json") if report else None
            row.violations_count = len(report.violations) if report else 0
            row.failure_reason = reason
            row.ended_at = utcnow()
            schedule = session.get(MonitoringSchedule, row.schedule_id)
            assert schedule is not None
            name, number = schedule.name, row.number
        for listener in self.on_execution_end:
            try:
                listener(name, number)
            except Exception:
                logger.exception("a listener failed after execution %s/%d", name, number)

    def set_alert(self, name: str, number: int, alert: dict[str, Any]) -> None:
        with self.db.transaction() as session:
            self._execution(session, name, number).alert = alert

    def set_retraining(self, name: str, number: int, retraining: dict[str, Any]) -> None:
        with self.db.transaction() as session:
            self._execution(session, name, number).retraining = retraining

    def retrainings_in_progress(self) -> list[tuple[str, int, dict[str, Any]]]:
        """(schedule, execution number, state) of every retraining not yet ended."""
        with self.db.reader() as session:
            rows = session.execute(
                select(
                    MonitoringSchedule.name,
                    MonitoringExecution.number,
                    MonitoringExecution.retraining,
                )
                .join(MonitoringSchedule, MonitoringSchedule.id == MonitoringExecution.schedule_id)
                .where(MonitoringExecution.retraining.is_not(None))
            ).all()
        return [
            (name, number, state)
            for name, number, state in rows
            if state and state.get("status") in ("Training", "Evaluating")
        ]

    def retrainings_in_progress_for(self, name: str) -> bool:
        """Whether a retraining of this schedule is still running (one at a time)."""
        return any(schedule == name for schedule, _, _ in self.retrainings_in_progress())

    def get_execution(self, name: str, number: int) -> MonitoringExecutionOut:
        with self.db.reader() as session:
            return self._execution_out(name, self._execution(session, name, number))

    def list_executions(
        self,
        name: str,
        *,
        limit: int = 50,
        page_token: str | None = None,
        status: ExecutionStatus | None = None,
    ) -> Page[MonitoringExecutionOut]:
        """A schedule's executions, newest first."""
        with self.db.reader() as session:
            schedule = self._schedule(session, name)
            query = newest_first(
                select(MonitoringExecution).where(MonitoringExecution.schedule_id == schedule.id),
                MonitoringExecution,
                limit,
                page_token,
            )
            if status is not None:
                query = query.where(MonitoringExecution.status == status.value)
            rows = list(session.scalars(query))
            return newest_first_page(rows, limit, lambda r: self._execution_out(name, r))

    def schedule_context(self, name: str) -> tuple[str, RetrainingConfig | None, str | None]:
        """A schedule's endpoint, retraining config and problem type."""
        with self.db.reader() as session:
            row = self._schedule(session, name)
            retraining = RetrainingConfig.model_validate(row.retraining) if row.retraining else None
            return row.endpoint, retraining, row.problem_type

    def webhook_url(self, name: str) -> str | None:
        with self.db.reader() as session:
            return self._schedule(session, name).webhook_url

    def recover(self) -> int:
        """Put executions a previous server left running back in the queue."""
        with self.db.transaction() as session:
            rows = session.scalars(
                select(MonitoringExecution).where(MonitoringExecution.status == X.IN_PROGRESS.value)
            ).all()
            for row in rows:
                row.status = EXECUTION.check(X.IN_PROGRESS, X.PENDING).value
                row.started_at = None
            return len(rows)

    # -- ground truth -----------------------------------------------------------------
    def upload_ground_truth(self, endpoint: str, body: bytes) -> GroundTruthResult:
        """Store labels for an endpoint's captured events (checked whole first)."""
        self.endpoints.get(endpoint)
        if len(body) > MAX_GROUND_TRUTH_BYTES:
            raise InvalidInput(
                f"the upload is {len(body):,} bytes; send at most "
                f"{MAX_GROUND_TRUTH_BYTES:,} bytes at a time",
                field="body",
            )
        pairs = parse_ground_truth(body)
        key = store_ground_truth(self.store, endpoint, pairs)
        return GroundTruthResult(endpoint=endpoint, records=len(pairs), key=key)

    # -- rows -------------------------------------------------------------------------
    def _add_execution(
        self,
        session: Session,
        schedule: MonitoringSchedule,
        trigger: str,
        start: datetime,
        end: datetime,
    ) -> MonitoringExecution:
        schedule.executions_count += 1
        execution = MonitoringExecution(
            schedule_id=schedule.id,
            number=schedule.executions_count,
            status=X.PENDING.value,
            trigger=trigger,
            window_start=start,
            window_end=end,
            violations_count=0,
            created_at=utcnow(),
        )
        session.add(execution)
        session.flush()
        return execution

    @staticmethod
    def _find_baseline(session: Session, name: str) -> MonitoringBaseline | None:
        return session.scalar(select(MonitoringBaseline).where(MonitoringBaseline.name == name))

    def _baseline(self, session: Session, name: str) -> MonitoringBaseline:
        row = self._find_baseline(session, name)
        if row is None:
            raise NotFound(f"baseline {name!r} does not exist", field="name")
        return row

    @staticmethod
    def _find_schedule(session: Session, name: str) -> MonitoringSchedule | None:
        return session.scalar(select(MonitoringSchedule).where(MonitoringSchedule.name == name))

    def _schedule(self, session: Session, name: str) -> MonitoringSchedule:
        row = self._find_schedule(session, name)
        if row is None:
            raise NotFound(f"monitoring schedule {name!r} does not exist", field="name")
        return row

    def _execution(self, session: Session, name: str, number: int) -> MonitoringExecution:
        schedule = self._schedule(session, name)
        row = session.scalar(
            select(MonitoringExecution).where(
                MonitoringExecution.schedule_id == schedule.id,
                MonitoringExecution.number == number,
            )
        )
        if row is None:
            raise NotFound(f"{name!r} has no execution {number}", field="number")
        return row

    def _schedule_out(self, session: Session, row: MonitoringSchedule) -> MonitoringScheduleOut:
        last = session.scalars(
            select(MonitoringExecution)
            .where(MonitoringExecution.schedule_id == row.id)
            .order_by(MonitoringExecution.number.desc())
            .limit(1)
        ).first()
        return MonitoringScheduleOut(
            name=row.name,
            endpoint=row.endpoint,
            baseline=row.baseline,
            status=S(row.status),
            every_s=row.every_s,
            cron=row.cron,
            problem_type=row.problem_type,
            webhook_url=row.webhook_url,
            retraining=RetrainingConfig.model_validate(row.retraining) if row.retraining else None,
            tags=row.tags,
            next_run_at=row.next_run_at,
            last_execution=ExecutionSummary(
                number=last.number,
                status=X(last.status),
                violations=last.violations_count,
                window_end=last.window_end,
            )
            if last
            else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def _execution_out(name: str, row: MonitoringExecution) -> MonitoringExecutionOut:
        return MonitoringExecutionOut(
            schedule=name,
            number=row.number,
            status=X(row.status),
            trigger=row.trigger,
            window_start=row.window_start,
            window_end=row.window_end,
            failure_reason=row.failure_reason,
            report=Report.model_validate(row.report) if row.report else None,
            alert=row.alert,
            retraining=row.retraining,
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
        )


def _baseline_out(row: MonitoringBaseline) -> BaselineOut:
    return BaselineOut(
        name=row.name,
        status=B(row.status),
        failure_reason=row.failure_reason,
        dataset=row.dataset,
        dataset_version=row.dataset_version,
        split=row.split,
        label=row.label,
        features=row.features,
        model_group=row.model_group,
        model_version=row.model_version,
        problem_type=row.problem_type,
        transform_job=row.transform_job,
        statistics=row.statistics,
        constraints=Constraints.model_validate(row.constraints),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _main_model(endpoint: EndpointOut) -> tuple[str, int]:
    """The model version of the endpoint's variant with the most traffic."""
    variant = max(endpoint.variants, key=lambda v: v.initial_weight)
    return variant.model_group, variant.model_version


def _interval(every_s: int | None, cron: str | None, now: datetime) -> float:
    """Seconds between two runs (for a cron schedule: the next two)."""
    if every_s is not None:
        return float(every_s)
    assert cron is not None
    times = croniter(cron, now)
    first = times.get_next(datetime)
    seconds: float = (times.get_next(datetime) - first).total_seconds()
    return seconds


def _next_run(every_s: int | None, cron: str | None, now: datetime) -> datetime:
    if every_s is not None:
        return now + timedelta(seconds=every_s)
    assert cron is not None
    moment: datetime = croniter(cron, now.astimezone(UTC)).get_next(datetime)
    return moment
