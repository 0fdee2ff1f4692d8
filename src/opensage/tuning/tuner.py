"""The tuner: drives every active tuning job — submits trials as training jobs, feeds
their intermediate objective values to early stopping, and ends the search.

One thread for all tuning jobs. It wakes when a training job ends or a tuning job is
created or stopped, and polls while trials it may prune are running.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from opensage.background import WakeableLoop
from opensage.errors import Conflict, InvalidInput, NotFound, OpenSageError
from opensage.training.schemas import TrainingJobCreate, TrainingJobOut
from opensage.training.service import TrainingService
from opensage.training.states import ACTIVE as TRAINING_ACTIVE
from opensage.training.states import TrainingJobStatus
from opensage.tuning.engine import Search
from opensage.tuning.models import TuningTrial
from opensage.tuning.schemas import EarlyStopping, ObjectiveType, Strategy
from opensage.tuning.service import (
    TRIAL_TAG,
    TUNING_TAG,
    TuningService,
    TuningState,
    best_trial,
    trial_job_name,
    trial_of,
)
from opensage.tuning.states import TrialStatus, TuningJobStatus

logger = logging.getLogger(__name__)

S = TuningJobStatus
T = TrialStatus
PRUNING_POLL_S = 0.2
IDLE_POLL_S = 1.0
FAILED_TRIALS_TO_GIVE_UP = 3
"""A search whose first trials all fail (this many) stops: the definition is broken."""


class Tuner:
    """Runs the searches; the metadata store holds all their state."""

    def __init__(self, service: TuningService, training: TrainingService) -> None:
        self.service = service
        self.training = training
        self._searches: dict[str, Search] = {}
        self._active: frozenset[str] = frozenset()  # the tuning jobs of the last round
        self._loop = WakeableLoop("opensage-tuner", self._round)
        service.on_change = self.wake
        training.on_end.append(lambda name: self.wake())
        # New intermediate values of a trial: early stopping judges them now, not at the
        # next poll (other jobs' metrics, stored five times a second, leave it asleep).
        training.on_metrics.append(self._metrics_stored)

    def start(self) -> None:
        """Start driving the tuning jobs (those a previous server left too)."""
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def _metrics_stored(self, job: str) -> None:
        if trial_of(job) in self._active:
            self.wake()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread; searches resume from the metadata store at the next start."""
        self._loop.close(timeout)
        self._searches.clear()

    # -- the loop ---------------------------------------------------------------------
    def _round(self) -> float:
        """Drive every active tuning job once; how long to wait before the next round."""
        poll = IDLE_POLL_S
        names = self.service.active_names()
        self._active = frozenset(names)
        for name in list(self._searches):
            if name not in names:
                del self._searches[name]
        for name in names:
            if self._loop.closing.is_set():
                break
            try:
                if self._drive(name):
                    poll = PRUNING_POLL_S
            except OpenSageError as exc:
                logger.warning("tuning job %s: %s", name, exc.message)
            except Exception:
                logger.exception("the tuner failed on tuning job %s; retrying", name)
                self._searches.pop(name, None)
        return poll

    def _drive(self, name: str) -> bool:
        """One round of decisions for one tuning job; True when it wants a quick poll."""
        state = self.service.state(name)
        if state.status is S.PENDING:
            self.service.set_status(name, S.IN_PROGRESS)
        search = self._searches.get(name)
        if search is None:
            search = self._searches[name] = self.service.search(state)
        prunes = (
            state.request.strategy is Strategy.HYPERBAND
            or state.request.early_stopping is EarlyStopping.AUTO
        )
        running = [t for t in state.trials if t.ended_at is None]
        for trial in running:
            self._follow(state, search, trial, prunes=prunes)
        state = self.service.state(name)
        running = [t for t in state.trials if t.ended_at is None]
        if self._should_wind_down(state):
            for trial in running:
                self._stop_trial(trial.training_job_name)
            if not running:
                self._end(name)
            return False
        launched = len(state.trials)
        while len(running) < state.request.max_parallel_trials and launched < state.max_trials:
            self._launch(state, search, launched + 1)
            launched += 1
            running.append(None)  # type: ignore[arg-type]
        if launched >= state.max_trials and not running:
            self._end(name)
        return prunes and bool(running)

    # -- trials -----------------------------------------------------------------------
    def _launch(self, state: TuningState, search: Search, number: int) -> None:
        """Submit trial ``number`` (a trial the platform refuses fails at once)."""
        definition = state.request.training_job_definition
        values = search.ask(number)
        job_name = trial_job_name(state.name, number)
        self.service.add_trial(state.name, number, job_name, values)
        request = TrainingJobCreate.model_validate(
            {
                **definition.model_dump(),
                "name": job_name,
                "hyperparameters": {**definition.hyperparameters, **values},
                # A trial interrupted by a server restart runs again rather than failing.
                "max_retry_attempts": max(definition.max_retry_attempts, 1),
                "tags": {**state.request.tags, TUNING_TAG: state.name, TRIAL_TAG: str(number)},
            }
        )
        try:
            self.training.create(request, staged_script=state.script)
        except (InvalidInput, Conflict) as exc:
            self.service.update_trial(
                state.name, number, status=T.FAILED, failure_reason=exc.message, ended=True
            )
            search.tell(number, T.FAILED)

    def _follow(
        self, state: TuningState, search: Search, trial: TuningTrial, *, prunes: bool
    ) -> None:
        """Bring one unfinished trial up to date with its training job."""
        try:
            job = self.training.get(trial.training_job_name)
        except NotFound:
            reason = "its training job was deleted"
            self.service.update_trial(
                state.name, trial.number, status=T.FAILED, failure_reason=reason, ended=True
            )
            search.tell(trial.number, T.FAILED)
            return
        running = job.status in TRAINING_ACTIVE
        if trial.status == T.PENDING.value and job.status is TrainingJobStatus.IN_PROGRESS:
            self.service.update_trial(state.name, trial.number, status=T.IN_PROGRESS)
        if prunes and trial.status != T.PRUNED.value:
            # An ended trial's curve still goes in: early stopping compares later trials
            # with the intermediate values of the finished ones.
            self._feed_pruner(state, search, trial, job, may_prune=running)
        if not running:
            self._record_end(state, search, trial, job)

    def _feed_pruner(
        self,
        state: TuningState,
        search: Search,
        trial: TuningTrial,
        job: TrainingJobOut,
        *,
        may_prune: bool,
    ) -> None:
        known = {int(k): float(v) for k, v in trial.intermediate_values.items()}
        points = self.training.metrics(
            job.name, state.request.objective.metric, after_step=max(known, default=None)
        )
        if not points:
            return
        prune = False
        for point in sorted(points, key=lambda p: p.step):
            known[point.step] = point.value
            if search.report(trial.number, point.step, point.value) and may_prune:
                prune = True  # judged at this step; later values came too late to count
                break
        reason = None
        if prune:
            last = max(known)
            reason = (
                f"stopped early at step {last}: {state.request.objective.metric} "
                f"{known[last]:g} was not promising"
            )
        self.service.update_trial(
            state.name,
            trial.number,
            intermediate_values=known,
            status=T.PRUNED if prune else None,
            failure_reason=reason,
        )
        if prune:
            search.tell(trial.number, T.PRUNED)
            self._stop_trial(job.name)

    def _record_end(
        self, state: TuningState, search: Search, trial: TuningTrial, job: TrainingJobOut
    ) -> None:
        name, number = state.name, trial.number
        metric = state.request.objective.metric
        if trial.status == T.PRUNED.value:
            self.service.update_trial(name, number, ended=True)
            return
        if job.status is TrainingJobStatus.COMPLETED:
            value = job.final_metrics.get(metric)
            if value is None:
                reason = f"the training job never reported the objective metric {metric!r}"
                self.service.update_trial(name, number, status=T.FAILED, failure_reason=reason,
                                          ended=True)  # fmt: skip
                search.tell(number, T.FAILED)
                return
            self.service.update_trial(name, number, status=T.COMPLETED, objective_value=value,
                                      ended=True)  # fmt: skip
            search.tell(number, T.COMPLETED, value)
            return
        status = T.FAILED if job.status is TrainingJobStatus.FAILED else T.STOPPED
        self.service.update_trial(name, number, status=status, failure_reason=job.failure_reason,
                                  ended=True)  # fmt: skip
        search.tell(number, status)

    def _stop_trial(self, job_name: str) -> None:
        with contextlib.suppress(Conflict, NotFound):  # it ended (or went) meanwhile
            self.training.stop(job_name)

    # -- ending -----------------------------------------------------------------------
    def _should_wind_down(self, state: TuningState) -> bool:
        """Whether to launch no more trials (and stop the running ones)."""
        if state.outcome is not None:
            return True
        request = state.request
        if request.max_runtime_s is not None and state.started_at is not None:
            elapsed = (datetime.now(UTC) - state.started_at).total_seconds()
            if elapsed > request.max_runtime_s:
                self.service.wind_down(
                    state.name, S.STOPPED, f"the tuning job ran longer than its max_runtime_s "
                    f"({request.max_runtime_s} s)",
                )  # fmt: skip
                return True
        finished = [t for t in state.trials if t.ended_at is not None]
        completed = [t for t in finished if t.status == T.COMPLETED.value]
        failed = [t for t in finished if t.status == T.FAILED.value]
        if not completed and len(failed) >= min(FAILED_TRIALS_TO_GIVE_UP, state.max_trials):
            last = failed[-1]
            self.service.wind_down(
                state.name,
                S.FAILED,
                f"the first {len(failed)} trials failed; the last one "
                f"({last.training_job_name}): {last.failure_reason}",
            )
            return True
        criteria = request.completion_criteria
        best = best_trial(state.trials, request.objective.type)
        if criteria.target_objective_value is not None and best is not None:
            assert best.objective_value is not None
            target = criteria.target_objective_value
            reached = (
                best.objective_value >= target
                if request.objective.type is ObjectiveType.MAXIMIZE
                else best.objective_value <= target
            )
            if reached:
                self.service.wind_down(
                    state.name,
                    S.COMPLETED,
                    f"trial {best.number} reached the target objective value {target:g}",
                )
                return True
        patience = criteria.max_trials_without_improvement
        if patience is not None and best is not None:
            done_after = [
                t for t in finished
                if t.ended_at is not None and best.ended_at is not None
                and t.ended_at > best.ended_at and t.status in (T.COMPLETED.value, T.PRUNED.value)
            ]  # fmt: skip
            if len(done_after) >= patience:
                reason = f"{len(done_after)} trials in a row did not improve on trial {best.number}"
                self.service.wind_down(state.name, S.COMPLETED, reason)
                return True
        return False

    def _end(self, name: str) -> None:
        """No trial runs any more: end the tuning job as decided (Completed by default)."""
        state = self.service.state(name)
        status = state.outcome or S.COMPLETED
        reason = state.completion_reason or f"all {state.max_trials} trials ran"
        self.service.set_status(state.name, status, completion_reason=reason)
        self._searches.pop(state.name, None)
        logger.info("tuning job %s ended %s: %s", state.name, status.value, reason)
