"""The search engine of one tuning job: an in-memory Optuna study rebuilt from the
platform's own records.

The metadata store is the only durable state (trials, their hyperparameters, objective
values and the intermediate values early stopping saw), so a restarted server rebuilds
the study from it and the search picks up where it was. Only the server writes to the
metadata store, so Optuna never meets a locked database.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner
from optuna.samplers import BaseSampler, GridSampler, RandomSampler, TPESampler
from optuna.trial import FrozenTrial, Trial, TrialState, create_trial

from opensage.training.schemas import HyperparameterValue
from opensage.tuning import space
from opensage.tuning.schemas import EarlyStopping, ObjectiveType, ParameterRange, Strategy
from opensage.tuning.states import TrialStatus

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

MEDIAN_STARTUP_TRIALS = 5
MEDIAN_WARMUP_STEPS = 1


@dataclass
class TrialRecord:
    """What the metadata store knows of one trial (of this search or a warm-start one)."""

    status: TrialStatus
    hyperparameters: dict[str, Any]
    objective_value: float | None = None
    intermediate_values: dict[int, float] = field(default_factory=dict)


class _GridSampler(GridSampler):
    """Optuna's grid sampler, minus its ``study.stop()`` once the grid is used up: that
    works only inside ``study.optimize``, and a grid search's trial budget is the grid
    size anyway."""

    def after_trial(self, *args: Any, **kwargs: Any) -> None:
        return None


def make_sampler(strategy: Strategy, seed: int | None, grid: dict[str, list[Any]] | None,
                 parallel: int) -> BaseSampler:  # fmt: skip
    """The sampler of a strategy: TPE for bayesian and hyperband, random, or grid."""
    if strategy is Strategy.RANDOM:
        return RandomSampler(seed=seed)
    if strategy is Strategy.GRID:
        assert grid is not None
        return _GridSampler(grid, seed=seed)
    # With trials running side by side, TPE assumes the running ones are bad ("constant
    # liar") so that parallel trials do not all sample the same promising spot.
    return TPESampler(seed=seed, constant_liar=parallel > 1)


def make_pruner(strategy: Strategy, early_stopping: EarlyStopping) -> BasePruner:
    """Hyperband for the hyperband strategy; the median rule for ``auto``; else none."""
    if strategy is Strategy.HYPERBAND:
        return HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
    if early_stopping is EarlyStopping.AUTO:
        return MedianPruner(
            n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=MEDIAN_WARMUP_STEPS
        )
    return NopPruner()


class Search:
    """One tuning job's study: ask for trials, feed intermediate values, tell outcomes.

    Trials are known by the tuning job's own numbers (1, 2, ...); warm-start trials only
    inform the sampler.
    """

    def __init__(
        self,
        ranges: Mapping[str, ParameterRange],
        *,
        study_name: str = "opensage",
        strategy: Strategy,
        objective: ObjectiveType,
        early_stopping: EarlyStopping,
        seed: int | None,
        parallel: int,
        warm_start: list[TrialRecord],
        trials: Mapping[int, TrialRecord],
    ) -> None:
        self.ranges = dict(ranges)
        self.distributions: dict[str, BaseDistribution] = space.distributions(self.ranges)
        grid = space.grid(self.ranges) if strategy is Strategy.GRID else None
        self.study = optuna.create_study(
            # Hyperband assigns trials to brackets by hashing the study name: a fixed one
            # keeps a seeded search reproducible.
            study_name=study_name,
            direction="maximize" if objective is ObjectiveType.MAXIMIZE else "minimize",
            sampler=make_sampler(strategy, seed, grid, parallel),
            pruner=make_pruner(strategy, early_stopping),
        )
        self.warm_start_trials = 0
        for record in warm_start:
            if record.status is TrialStatus.COMPLETED and self._add(record):
                self.warm_start_trials += 1
        self._running: dict[int, Trial] = {}
        self._reported: dict[int, set[int]] = {}
        self._own: set[int] = set()
        """Optuna's numbers of this search's own trials (warm-start ones excluded)."""
        for number in sorted(trials):
            record = trials[number]
            if record.status in (TrialStatus.PENDING, TrialStatus.IN_PROGRESS):
                self._resume(number, record)
            elif self._add(record):
                self._own.add(self.study.trials[-1].number)

    # -- asking ----------------------------------------------------------------------
    def ask(self, number: int) -> dict[str, HyperparameterValue]:
        """Hyperparameters for trial ``number`` (which then runs until told)."""
        trial = self.study.ask(self.distributions)
        self._running[number] = trial
        self._reported[number] = set()
        self._own.add(trial.number)
        return space.hyperparameters(self.ranges, trial.params)

    def report(self, number: int, step: int, value: float) -> bool:
        """Feed an intermediate objective value of a running trial; True when early
        stopping gives up on the trial at this step.

        Feed values in step order and stop at the first True: Hyperband decides at its
        rungs' steps, so each value has to be judged as it arrives, not in a batch.
        """
        trial = self._running.get(number)
        if trial is None or step in self._reported[number]:
            return False
        self._reported[number].add(step)
        trial.report(value, step)
        return bool(trial.should_prune())

    def tell(self, number: int, status: TrialStatus, value: float | None = None) -> None:
        """The trial's outcome: completed with ``value``, pruned, or failed/stopped."""
        trial = self._running.pop(number, None)
        self._reported.pop(number, None)
        if trial is None:
            return
        if status is TrialStatus.COMPLETED and value is not None:
            self.study.tell(trial, value)
        elif status is TrialStatus.PRUNED:
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    # -- results ---------------------------------------------------------------------
    def importances(self) -> dict[str, float]:
        """Optuna's parameter importances over this search's completed trials (warm-start
        ones excluded); empty until two of them differ in objective value."""
        completed = [
            t
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.number in self._own
        ]
        if len({t.value for t in completed}) < 2:
            return {}
        if len(self.ranges) == 1:
            return {next(iter(self.ranges)): 1.0}
        own = optuna.create_study(direction=self.study.direction)
        own.add_trials(completed)
        values = optuna.importance.get_param_importances(own)
        return {name: float(value) for name, value in values.items()}

    # -- rebuilding --------------------------------------------------------------------
    def _sampled(self, record: TrialRecord) -> dict[str, Any] | None:
        if not space.fits(self.ranges, record.hyperparameters):
            return None
        return {
            name: space.to_sampled(spec, record.hyperparameters[name])
            for name, spec in self.ranges.items()
        }

    def _add(self, record: TrialRecord) -> bool:
        params = self._sampled(record)
        if params is None:
            return False
        state, value = {
            TrialStatus.COMPLETED: (TrialState.COMPLETE, record.objective_value),
            TrialStatus.PRUNED: (TrialState.PRUNED, None),
        }.get(record.status, (TrialState.FAIL, None))
        if state is TrialState.COMPLETE and value is None:
            state = TrialState.FAIL
        frozen: FrozenTrial = create_trial(
            state=state,
            value=value,
            params=params,
            distributions=self.distributions,
            intermediate_values=dict(record.intermediate_values),
        )
        self.study.add_trial(frozen)
        return True

    def _resume(self, number: int, record: TrialRecord) -> None:
        params = self._sampled(record)
        if params is not None:
            self.study.enqueue_trial(params, skip_if_exists=False)
        trial = self.study.ask(self.distributions)
        self._running[number] = trial
        self._reported[number] = set()
        self._own.add(trial.number)
        for step, value in sorted(record.intermediate_values.items()):
            self._reported[number].add(step)
            trial.report(value, step)
