"""SDK resources for tuning jobs: ``client.tuning_jobs``, ``TuningJob`` objects and
:func:`tune`, the one-call search."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from opensage.client.http import HTTPSession, list_filtered
from opensage.client.resource import Resource
from opensage.client.training import TrainingJob, definition_body
from opensage.training.schemas import TrainingJobOut
from opensage.tuning.schemas import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    ParameterImportance,
    TrialOut,
    TuningJobOut,
)
from opensage.tuning.states import ACTIVE, TuningJobStatus

if TYPE_CHECKING:
    import pandas as pd

    from opensage.client import Client

_TRIAL_COLUMNS = frozenset(
    {"number", "training_job_name", "status", "objective_value", "steps_reported",
     "failure_reason", "created_at", "ended_at"}
)  # fmt: skip
RangeLike = IntegerRange | ContinuousRange | CategoricalRange | Mapping[str, Any]


class TuningJob(Resource[TuningJobOut]):
    """A tuning job on the server."""

    info_type = TuningJobOut

    @property
    def path(self) -> str:
        return f"/api/v1/tuning-jobs/{self.name}"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> TuningJobStatus:
        return self.info.status

    @property
    def best_trial(self) -> TrialOut | None:
        """The completed trial with the best objective value so far."""
        return self.info.best_trial

    def __repr__(self) -> str:
        return f"TuningJob(name={self.name!r}, status={self.status.value})"

    def wait(self, timeout: float | None = None, poll_s: float = 0.5) -> TuningJob:
        """Block until the search has ended (or ``timeout`` seconds passed: TimeoutError)."""

        def still() -> str:
            waiting = [
                f"{t.training_job_name} ({t.status.value})"
                for t in self.trial_list()
                if t.ended_at is None
            ]
            return (
                f"tuning job {self.name} still {self.status.value} after {timeout} s; "
                f"trials: {self.info.trial_counts}; unfinished: {', '.join(waiting)}"
            )

        return self._wait_while(lambda: self.status in ACTIVE, timeout, poll_s, still)

    def stop(self) -> TuningJob:
        """Stop the search and its running trials."""
        return self._send("POST", "/stop")

    def trial_list(self) -> list[TrialOut]:
        """Every trial, by number."""
        body = self._session.json("GET", f"{self.path}/trials")
        return [TrialOut.model_validate(item) for item in body]

    def trials(self, *, sort_by_objective: bool = False) -> pd.DataFrame:
        """The trial table: one row per trial, one column per searched hyperparameter,
        plus number, training job, status, objective value and times. With
        ``sort_by_objective``, best first (failed and pruned trials last)."""
        import pandas as pd

        rows = []
        for trial in self.trial_list():
            row: dict[str, Any] = {
                "number": trial.number,
                "training_job_name": trial.training_job_name,
                "status": trial.status.value,
                "objective_value": trial.objective_value,
            }
            for name, value in trial.hyperparameters.items():
                # A hyperparameter named like a fixed column keeps both.
                row[f"hyperparameter:{name}" if name in _TRIAL_COLUMNS else name] = value
            row.update(
                steps_reported=trial.steps_reported,
                failure_reason=trial.failure_reason,
                created_at=trial.created_at,
                ended_at=trial.ended_at,
            )
            rows.append(row)
        frame = pd.DataFrame(rows)
        if sort_by_objective and not frame.empty:
            ascending = self.info.objective.type.value == "minimize"
            frame = frame.sort_values(
                ["objective_value", "number"], ascending=[ascending, True], na_position="last"
            ).reset_index(drop=True)
        return frame

    def best_training_job(self) -> TrainingJob:
        """The training job of the best trial (its model is the search's result)."""
        best = self.refresh().best_trial
        if best is None:
            raise LookupError(f"tuning job {self.name} has no completed trial yet")
        body = self._session.json("GET", f"/api/v1/training-jobs/{best.training_job_name}")
        return TrainingJob(self._session, TrainingJobOut.model_validate(body))

    def parameter_importances(self) -> dict[str, float]:
        """Each searched hyperparameter's importance (Optuna's evaluator), largest first."""
        body = self._session.json("GET", f"{self.path}/parameter-importances")
        values = [ParameterImportance.model_validate(item) for item in body]
        return {item.name: item.importance for item in values}

    def delete(self) -> None:
        """Delete the (ended) tuning job and its trials' training jobs."""
        self._session.request("DELETE", self.path)


class TuningJobs:
    """``client.tuning_jobs``: start and find tuning jobs."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        *,
        parameter_ranges: Mapping[str, RangeLike],
        objective: str,
        objective_type: str = "minimize",
        strategy: str = "bayesian",
        max_trials: int | None = None,
        max_parallel_trials: int = 1,
        max_runtime_s: int | None = None,
        early_stopping: str = "off",
        target_objective_value: float | None = None,
        max_trials_without_improvement: int | None = None,
        seed: int | None = None,
        warm_start_from: list[str] | None = None,
        tags: dict[str, str] | None = None,
        algorithm: str | None = None,
        script: str | Path | None = None,
        source_dir: str | Path | None = None,
        entry_point: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        channels: dict[str, Any] | None = None,
        cpu_slots: int = 1,
        trial_max_runtime_s: int | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        environment: dict[str, str] | None = None,
    ) -> TuningJob:
        """Start a search over ``parameter_ranges`` of a built-in ``algorithm`` or your
        ``script`` (the training job definition: as in ``training_jobs.create``, with
        ``hyperparameters`` the static ones and ``trial_max_runtime_s`` each trial's limit).

        ``objective`` names the metric (``"validation:rmse"``), ``objective_type`` is
        ``minimize`` or ``maximize``; ``strategy`` is ``bayesian``, ``random``, ``grid`` or
        ``hyperband``; ``early_stopping="auto"`` stops unpromising trials early.
        """
        definition = definition_body(
            self._session,
            algorithm=algorithm,
            script=script,
            source_dir=source_dir,
            entry_point=entry_point,
            hyperparameters=hyperparameters,
            channels=channels,
            cpu_slots=cpu_slots,
            max_runtime_s=trial_max_runtime_s,
            max_retry_attempts=0,
            metric_definitions=metric_definitions,
            environment=environment,
        )
        body: dict[str, Any] = {
            "name": name,
            "training_job_definition": definition,
            "parameter_ranges": {k: _range(v) for k, v in parameter_ranges.items()},
            "objective": {"metric": objective, "type": objective_type},
            "strategy": strategy,
            "max_trials": max_trials,
            "max_parallel_trials": max_parallel_trials,
            "max_runtime_s": max_runtime_s,
            "early_stopping": early_stopping,
            "completion_criteria": {
                "target_objective_value": target_objective_value,
                "max_trials_without_improvement": max_trials_without_improvement,
            },
            "seed": seed,
            "warm_start_from": warm_start_from or [],
            "tags": tags or {},
        }
        info = self._session.json("POST", "/api/v1/tuning-jobs", json=body)
        return TuningJob(self._session, TuningJobOut.model_validate(info))

    def get(self, name: str) -> TuningJob:
        """The tuning job called ``name``."""
        body = self._session.json("GET", f"/api/v1/tuning-jobs/{name}")
        return TuningJob(self._session, TuningJobOut.model_validate(body))

    def list(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
    ) -> list[TuningJob]:
        """Tuning jobs, newest first."""
        return list_filtered(
            self._session,
            "/api/v1/tuning-jobs",
            TuningJobOut,
            lambda info: TuningJob(self._session, info),
            status=status,
            name_contains=name_contains,
            limit=limit,
        )


def tune(
    name: str,
    *,
    client: Client | None = None,
    wait: bool = True,
    timeout: float | None = None,
    **options: Any,
) -> TuningJob:
    """Run a search in one call and (by default) wait for it to end.

    >>> job = opensage.tune(
    ...     "exam-score-search",
    ...     algorithm="xgboost",
    ...     hyperparameters={"num_round": 50},
    ...     channels={"train": "exam-scores:train", "validation": "exam-scores:validation"},
    ...     parameter_ranges={"eta": ContinuousRange(min=0.01, max=0.5, scaling="logarithmic")},
    ...     objective="validation:rmse",
    ...     max_trials=20,
    ...     max_parallel_trials=2,
    ... )
    >>> job.best_trial.objective_value

    ``client`` defaults to ``Client()`` (``OPENSAGE_URL`` and your saved key); the
    other options are those of :meth:`TuningJobs.create`.
    """
    from opensage.client import Client

    job = (client or Client()).tuning_jobs.create(name, **options)
    if wait:
        job.wait(timeout=timeout)
    return job


def _range(value: RangeLike) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value)
