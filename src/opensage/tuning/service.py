"""The tuning capability: start, inspect, stop and delete tuning jobs; read their trials.

The search itself runs in the :class:`~opensage.tuning.tuner.Tuner`; this service owns
the records (tuning jobs and trials) that both it and the API read and write.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.algorithms import get_algorithm
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.pagination import (
    Page,
    contains_pattern,
    newest_first,
    newest_first_page,
)
from opensage.storage import ArtifactStore
from opensage.training.schemas import TrainingJobDefinition, hyperparameter_strings
from opensage.training.service import TrainingService
from opensage.training.states import ACTIVE as TRAINING_ACTIVE
from opensage.tuning import space
from opensage.tuning.engine import Search, TrialRecord
from opensage.tuning.models import TuningJob, TuningTrial
from opensage.tuning.schemas import (
    CompletionCriteria,
    EarlyStopping,
    Objective,
    ObjectiveType,
    ParameterImportance,
    Strategy,
    TrialCounts,
    TrialOut,
    TuningJobCreate,
    TuningJobOut,
)
from opensage.tuning.states import ACTIVE, TUNING_JOB, TrialStatus, TuningJobStatus

logger = logging.getLogger(__name__)

S = TuningJobStatus
MAX_NAME_LENGTH = 58
"""Trial training jobs are named ``<tuning job>-NNN``, within the 63-character limit."""
TUNING_TAG = "opensage:tuning-job"
TRIAL_TAG = "opensage:trial"


def trial_job_name(tuning_job: str, number: int) -> str:
    """The training job that runs trial ``number`` (1-based) of ``tuning_job``."""
    return f"{tuning_job}-{number:03d}"


def trial_of(training_job: str) -> str:
    """The tuning job whose trial ``training_job`` would be, by its name (any name has
    one; whether that tuning job exists is for the caller to know)."""
    return training_job.rsplit("-", 1)[0]


@dataclass
class TuningState:
    """A snapshot of one tuning job and its trials, for the tuner's next decisions."""

    name: str
    status: TuningJobStatus
    request: TuningJobCreate
    script: dict[str, Any] | None
    max_trials: int
    stop_requested: bool
    completion_reason: str | None
    failure_reason: str | None
    outcome: TuningJobStatus | None
    started_at: datetime | None
    trials: list[TuningTrial]


class TuningService:
    """Tuning jobs and their trials in the metadata store."""

    def __init__(self, db: Database, store: ArtifactStore, training: TrainingService) -> None:
        self.db = db
        self.store = store
        self.training = training
        self.on_change: Callable[[], None] = lambda: None

    # -- create -----------------------------------------------------------------------
    def create(self, request: TuningJobCreate) -> TuningJobOut:
        """Validate the whole search up front and queue it for the tuner."""
        if len(request.name) > MAX_NAME_LENGTH:
            raise InvalidInput(
                f"a tuning job name has at most {MAX_NAME_LENGTH} characters (its trials "
                "are named <name>-NNN)",
                field="name",
            )
        definition = request.training_job_definition
        self._check_space(request)
        # The definition with one point of the space: static hyperparameters alone may
        # lack a required one that the search sets.
        first_trial = definition.model_copy(
            update={
                "hyperparameters": {
                    **definition.hyperparameters,
                    **space.corners(request.parameter_ranges)[0],
                }
            }
        )
        try:
            self.training.check_definition(first_trial)
        except InvalidInput as exc:
            field = f"training_job_definition.{exc.field}" if exc.field else None
            raise InvalidInput(exc.message, field=field) from None
        self._check_objective(request)
        max_trials = self._budget(request)
        warm_start_trials = self._check_warm_start(request)
        with self.db.reader() as session:
            if session.scalar(select(TuningJob.id).where(TuningJob.name == request.name)):
                raise Conflict(f"tuning job {request.name!r} already exists", field="name")
        script = None
        if definition.script is not None:
            script = self.training.stage_script(
                f"tuning-jobs/{request.name}",
                definition.script.source,
                definition.script.entry_point,
            )
        row = TuningJob(
            name=request.name,
            status=S.PENDING.value,
            training_job_definition=definition.model_dump(mode="json"),
            script=script,
            parameter_ranges={
                k: v.model_dump(mode="json") for k, v in request.parameter_ranges.items()
            },
            objective_metric=request.objective.metric,
            objective_type=request.objective.type.value,
            strategy=request.strategy.value,
            max_trials=max_trials,
            max_parallel_trials=request.max_parallel_trials,
            max_runtime_s=request.max_runtime_s,
            early_stopping=request.early_stopping.value,
            completion_criteria=request.completion_criteria.model_dump(mode="json"),
            seed=request.seed,
            warm_start_from=list(request.warm_start_from),
            warm_start_trials=warm_start_trials,
            tags=request.tags,
            created_at=utcnow(),
        )
        try:
            with self.db.transaction() as session:
                session.add(row)
                session.flush()
                out = self._out(session, row)
        except IntegrityError:
            if script is not None:
                self.store.delete_prefix(script["key"].rsplit("/", 1)[0])
            raise Conflict(f"tuning job {request.name!r} already exists", field="name") from None
        if definition.script is not None:
            self.training.consume_upload(definition.script.source)
        self.on_change()
        return out

    def _check_space(self, request: TuningJobCreate) -> None:
        definition = request.training_job_definition
        for name in request.parameter_ranges:
            if name in definition.hyperparameters:
                raise InvalidInput(
                    f"hyperparameter {name!r} is both static and searched; give it in one place",
                    field=f"parameter_ranges.{name}",
                )
        if definition.algorithm is None:
            return
        try:
            algorithm = get_algorithm(definition.algorithm)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="training_job_definition.algorithm") from None
        for corner in space.corners(request.parameter_ranges):
            merged = hyperparameter_strings({**definition.hyperparameters, **corner})
            try:
                algorithm.parse_hyperparameters(merged)
            except InvalidInput as exc:
                field = (exc.field or "").removeprefix("hyperparameters.")
                where = (
                    f"parameter_ranges.{field}"
                    if field in request.parameter_ranges
                    else f"training_job_definition.hyperparameters.{field}"
                )
                raise InvalidInput(exc.message, field=where) from None

    def _check_objective(self, request: TuningJobCreate) -> None:
        definition = request.training_job_definition
        metric = request.objective.metric
        if definition.algorithm is None:
            return  # a script's metrics are whatever it logs; a trial without it fails
        algorithm = get_algorithm(definition.algorithm)
        corner = space.corners(request.parameter_ranges)[0]
        params = algorithm.parse_hyperparameters(
            hyperparameter_strings({**definition.hyperparameters, **corner})
        )
        names = algorithm.metric_names(params)
        emitted = [f"{channel}:{name}" for channel in definition.channels for name in names]
        if metric not in emitted:
            raise InvalidInput(
                f"{definition.algorithm} never emits {metric!r} with these channels and "
                f"hyperparameters; it emits {emitted}",
                field="objective.metric",
            )

    @staticmethod
    def _budget(request: TuningJobCreate) -> int:
        if request.strategy is not Strategy.GRID:
            if request.max_trials is None:
                raise InvalidInput(
                    f"max_trials is required for {request.strategy.value} search",
                    field="max_trials",
                )
            return request.max_trials
        size = space.grid_size(request.parameter_ranges)
        return size if request.max_trials is None else min(size, request.max_trials)

    def _check_warm_start(self, request: TuningJobCreate) -> int:
        """Check the parents; return how many of their trials fit this search's space."""
        count = 0
        with self.db.reader() as session:
            for parent in request.warm_start_from:
                row = session.scalar(select(TuningJob).where(TuningJob.name == parent))
                if row is None:
                    raise InvalidInput(
                        f"tuning job {parent!r} does not exist", field="warm_start_from"
                    )
                if TuningJobStatus(row.status) in ACTIVE:
                    raise InvalidInput(
                        f"tuning job {parent!r} is still {row.status}; warm start needs ended ones",
                        field="warm_start_from",
                    )
                if (row.objective_metric, row.objective_type) != (
                    request.objective.metric,
                    request.objective.type.value,
                ):
                    raise InvalidInput(
                        f"tuning job {parent!r} has objective {row.objective_type} "
                        f"{row.objective_metric}, not {request.objective.type.value} "
                        f"{request.objective.metric}",
                        field="warm_start_from",
                    )
                for trial in self._trials(session, row.id):
                    if (
                        trial.status == TrialStatus.COMPLETED.value
                        and trial.objective_value is not None
                        and space.fits(request.parameter_ranges, trial.hyperparameters)
                    ):
                        count += 1
        return count

    # -- read -------------------------------------------------------------------------
    def get(self, name: str) -> TuningJobOut:
        """One tuning job with its trial counts and best trial."""
        with self.db.reader() as session:
            return self._out(session, self._get(session, name))

    def list_jobs(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        status: TuningJobStatus | None = None,
        name_contains: str | None = None,
    ) -> Page[TuningJobOut]:
        """Tuning jobs, newest first, filtered in SQL."""
        query = newest_first(select(TuningJob), TuningJob, limit, page_token)
        if status is not None:
            query = query.where(TuningJob.status == status.value)
        if name_contains:
            query = query.where(TuningJob.name.like(contains_pattern(name_contains), escape="\\"))
        with self.db.reader() as session:
            rows = list(session.scalars(query).all())
            return newest_first_page(rows, limit, lambda row: self._out(session, row))

    def trials(self, name: str) -> list[TrialOut]:
        """Every trial of the tuning job, by number."""
        with self.db.reader() as session:
            job = self._get(session, name)
            return [_trial_out(t) for t in self._trials(session, job.id)]

    def importances(self, name: str) -> list[ParameterImportance]:
        """How much each searched hyperparameter explains the objective (Optuna's
        evaluator over the completed trials), most important first."""
        state = self.state(name)
        search = self.search(state)
        values = search.importances()
        ordered = sorted(values.items(), key=lambda item: -item[1])
        return [ParameterImportance(name=k, importance=v) for k, v in ordered]

    # -- stop and delete --------------------------------------------------------------
    def stop(self, name: str) -> TuningJobOut:
        """Stop the search: no new trials, and every running trial is stopped."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            current = TuningJobStatus(job.status)
            if current not in ACTIVE:
                raise Conflict(
                    f"tuning job {name!r} has already ended ({current.value})", field="name"
                )
            if current is not S.STOPPING:
                TUNING_JOB.check(current, S.STOPPING)
                job.status = S.STOPPING.value
            job.stop_requested = True
            if job.outcome is None:
                job.outcome = S.STOPPED.value
                job.completion_reason = "stopped by request"
            out = self._out(session, job)
        self.on_change()
        return out

    def delete(self, name: str) -> None:
        """Delete an ended tuning job with its trials' training jobs."""
        with self.db.reader() as session:
            job = self._get(session, name)
            if TuningJobStatus(job.status) in ACTIVE:
                raise Conflict(
                    f"tuning job {name!r} is still {job.status}; stop it first", field="name"
                )
            trial_jobs = [t.training_job_name for t in self._trials(session, job.id)]
        for trial_job in trial_jobs:  # check all first, so a refusal deletes nothing
            with contextlib.suppress(NotFound):
                if self.training.get(trial_job).status in TRAINING_ACTIVE:
                    raise Conflict(
                        f"trial job {trial_job!r} of tuning job {name!r} is still running; "
                        "try again once it has stopped",
                        field="name",
                    )
        for trial_job in trial_jobs:
            with contextlib.suppress(NotFound):
                self.training.delete(trial_job)
        with self.db.transaction() as session:
            session.delete(self._get(session, name))
        self.store.delete_prefix(f"tuning-jobs/{name}")

    # -- used by the tuner ------------------------------------------------------------
    def active_names(self) -> list[str]:
        """Tuning jobs the tuner still has to drive, oldest first."""
        with self.db.reader() as session:
            return list(
                session.scalars(
                    select(TuningJob.name)
                    .where(TuningJob.status.in_([s.value for s in ACTIVE]))
                    .order_by(TuningJob.created_at)
                ).all()
            )

    def state(self, name: str) -> TuningState:
        """A snapshot of the tuning job and its trials."""
        with self.db.reader() as session:
            job = self._get(session, name)
            trials = self._trials(session, job.id)
            for trial in trials:
                session.expunge(trial)
            return TuningState(
                name=job.name,
                status=TuningJobStatus(job.status),
                request=self._request(job),
                script=job.script,
                max_trials=job.max_trials,
                stop_requested=job.stop_requested,
                completion_reason=job.completion_reason,
                failure_reason=job.failure_reason,
                outcome=TuningJobStatus(job.outcome) if job.outcome else None,
                started_at=job.started_at,
                trials=trials,
            )

    def search(self, state: TuningState) -> Search:
        """The tuning job's study, rebuilt from its trials (and its warm-start parents')."""
        request = state.request
        warm: list[TrialRecord] = []
        with self.db.reader() as session:
            for parent in request.warm_start_from:
                row = session.scalar(select(TuningJob).where(TuningJob.name == parent))
                if row is not None:
                    warm.extend(_record(t) for t in self._trials(session, row.id))
        return Search(
            request.parameter_ranges,
            study_name=state.name,
            strategy=request.strategy,
            objective=request.objective.type,
            early_stopping=request.early_stopping,
            seed=request.seed,
            parallel=request.max_parallel_trials,
            warm_start=warm,
            trials={t.number: _record(t) for t in state.trials},
        )

    def set_status(
        self,
        name: str,
        status: TuningJobStatus,
        *,
        failure_reason: str | None = None,
        completion_reason: str | None = None,
    ) -> None:
        """Move the tuning job through its state machine (ending it sets ``ended_at``)."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            current = TuningJobStatus(job.status)
            if current is not status:
                TUNING_JOB.check(current, status)
                job.status = status.value
            if status is S.IN_PROGRESS and job.started_at is None:
                job.started_at = utcnow()
            if failure_reason is not None:
                job.failure_reason = failure_reason
            if completion_reason is not None and job.completion_reason is None:
                job.completion_reason = completion_reason
            if TUNING_JOB.is_terminal(status):
                job.ended_at = utcnow()

    def wind_down(self, name: str, outcome: TuningJobStatus, reason: str) -> None:
        """Launch no more trials: the job ends ``outcome`` once its running trials end."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            if job.outcome is not None:
                return
            job.outcome = outcome.value
            job.completion_reason = reason
            if outcome is S.FAILED:
                job.failure_reason = reason

    def add_trial(
        self, name: str, number: int, training_job_name: str, hyperparameters: dict[str, Any]
    ) -> None:
        """Record a new trial (before its training job is submitted)."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            session.add(
                TuningTrial(
                    tuning_job_id=job.id,
                    number=number,
                    training_job_name=training_job_name,
                    status=TrialStatus.PENDING.value,
                    hyperparameters=hyperparameters,
                    intermediate_values={},
                    created_at=utcnow(),
                )
            )

    def update_trial(
        self,
        name: str,
        number: int,
        *,
        status: TrialStatus | None = None,
        objective_value: float | None = None,
        intermediate_values: dict[int, float] | None = None,
        failure_reason: str | None = None,
        ended: bool = False,
    ) -> None:
        """Record what happened to a trial."""
        with self.db.transaction() as session:
            job = self._get(session, name, lock=True)
            trial = session.scalar(
                select(TuningTrial).where(
                    TuningTrial.tuning_job_id == job.id, TuningTrial.number == number
                )
            )
            if trial is None:
                raise NotFound(f"tuning job {name!r} has no trial {number}")
            if status is not None:
                trial.status = status.value
            if objective_value is not None:
                trial.objective_value = objective_value
            if intermediate_values is not None:
                trial.intermediate_values = {str(k): v for k, v in intermediate_values.items()}
            if failure_reason is not None:
                trial.failure_reason = failure_reason
            if ended and trial.ended_at is None:
                trial.ended_at = utcnow()

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _get(session: Session, name: str, *, lock: bool = False) -> TuningJob:
        """The tuning job called ``name``; ``lock`` for a read-modify-write."""
        query = select(TuningJob).where(TuningJob.name == name)
        job = session.scalar(query.with_for_update() if lock else query)
        if job is None:
            raise NotFound(f"tuning job {name!r} does not exist", field="name")
        return job

    @staticmethod
    def _trials(session: Session, job_id: str) -> list[TuningTrial]:
        return list(
            session.scalars(
                select(TuningTrial)
                .where(TuningTrial.tuning_job_id == job_id)
                .order_by(TuningTrial.number)
            ).all()
        )

    @staticmethod
    def _request(job: TuningJob) -> TuningJobCreate:
        return TuningJobCreate.model_validate(
            {
                "name": job.name,
                "training_job_definition": job.training_job_definition,
                "parameter_ranges": job.parameter_ranges,
                "objective": {"metric": job.objective_metric, "type": job.objective_type},
                "strategy": job.strategy,
                "max_trials": job.max_trials,
                "max_parallel_trials": job.max_parallel_trials,
                "max_runtime_s": job.max_runtime_s,
                "early_stopping": job.early_stopping,
                "completion_criteria": job.completion_criteria,
                "seed": job.seed,
                "warm_start_from": job.warm_start_from,
                "tags": job.tags,
            }
        )

    def _out(self, session: Session, job: TuningJob) -> TuningJobOut:
        counts = TrialCounts()
        for status, count in session.execute(
            select(TuningTrial.status, func.count())
            .where(TuningTrial.tuning_job_id == job.id)
            .group_by(TuningTrial.status)
        ):
            setattr(counts, _COUNT_FIELD[TrialStatus(status)], count)
        objective = ObjectiveType(job.objective_type)
        value = TuningTrial.objective_value
        best = session.scalar(
            select(TuningTrial)
            .where(
                TuningTrial.tuning_job_id == job.id,
                TuningTrial.status == TrialStatus.COMPLETED.value,
                value.is_not(None),
            )
            .order_by(value.desc() if objective is ObjectiveType.MAXIMIZE else value.asc())
            .order_by(TuningTrial.number)
            .limit(1)
        )
        request = self._request(job)
        return TuningJobOut(
            name=job.name,
            status=TuningJobStatus(job.status),
            failure_reason=job.failure_reason,
            completion_reason=job.completion_reason,
            training_job_definition=TrainingJobDefinition.model_validate(
                job.training_job_definition
            ),
            parameter_ranges=request.parameter_ranges,
            objective=Objective(
                metric=job.objective_metric, type=ObjectiveType(job.objective_type)
            ),
            strategy=Strategy(job.strategy),
            max_trials=job.max_trials,
            max_parallel_trials=job.max_parallel_trials,
            max_runtime_s=job.max_runtime_s,
            early_stopping=EarlyStopping(job.early_stopping),
            completion_criteria=CompletionCriteria.model_validate(job.completion_criteria),
            seed=job.seed,
            warm_start_from=job.warm_start_from,
            warm_start_trials=job.warm_start_trials,
            tags=job.tags,
            trial_counts=counts,
            best_trial=_trial_out(best) if best is not None else None,
            created_at=job.created_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
        )


_COUNT_FIELD = {
    TrialStatus.PENDING: "pending",
    TrialStatus.IN_PROGRESS: "in_progress",
    TrialStatus.COMPLETED: "completed",
    TrialStatus.FAILED: "failed",
    TrialStatus.STOPPED: "stopped",
    TrialStatus.PRUNED: "pruned",
}


def _record(trial: TuningTrial) -> TrialRecord:
    return TrialRecord(
        status=TrialStatus(trial.status),
        hyperparameters=dict(trial.hyperparameters),
        objective_value=trial.objective_value,
        intermediate_values={int(k): float(v) for k, v in trial.intermediate_values.items()},
    )


def _trial_out(trial: TuningTrial) -> TrialOut:
    return TrialOut(
        number=trial.number,
        training_job_name=trial.training_job_name,
        status=TrialStatus(trial.status),
        hyperparameters=trial.hyperparameters,
        objective_value=trial.objective_value,
        steps_reported=len(trial.intermediate_values),
        failure_reason=trial.failure_reason,
        created_at=trial.created_at,
        ended_at=trial.ended_at,
    )


def best_trial(trials: list[TuningTrial], objective: ObjectiveType) -> TuningTrial | None:
    """The completed trial with the best objective value (the earliest on a tie)."""
    done = [
        t
        for t in trials
        if t.status == TrialStatus.COMPLETED.value and t.objective_value is not None
    ]
    if not done:
        return None
    sign = -1.0 if objective is ObjectiveType.MAXIMIZE else 1.0
    return min(done, key=lambda t: (sign * float(t.objective_value or 0.0), t.number))
