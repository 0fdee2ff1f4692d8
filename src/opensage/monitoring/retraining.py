"""The loop back: on a violation, train the endpoint's model again on a newer dataset
version, register the result, compare it with the current model on the holdout, and
promote it (approve, then deploy to the endpoint) only if it is better and the schedule
allows it.

A retraining is a small state machine kept on the execution that started it
(``Training`` → ``Evaluating`` → ``Completed`` | ``Failed``); the monitor thread moves
it along as the training and transform jobs it waits for end, so a server restart picks
it up where it was.
"""

from __future__ import annotations

import logging
from typing import Any

from opensage.datasets.service import DatasetService
from opensage.errors import OpenSageError
from opensage.monitoring import predictions as model_predictions
from opensage.monitoring.quality import score
from opensage.monitoring.schemas import ProblemType, RetrainingConfig
from opensage.registry.schemas import ApprovalStatus, ApprovalUpdate, ModelVersionCreate
from opensage.registry.service import RegistryService
from opensage.serving.schemas import EndpointUpdate
from opensage.serving.service import EndpointService
from opensage.storage import ArtifactStore
from opensage.training.schemas import TrainingJobCreate
from opensage.training.service import TrainingService
from opensage.training.states import TrainingJobStatus
from opensage.transform.service import TransformService
from opensage.transform.states import TransformJobStatus

logger = logging.getLogger(__name__)

LOWER_IS_BETTER = frozenset({"rmse", "mae"})
DEFAULT_METRIC: dict[str, str] = {"regression": "rmse", "binary": "f1", "multiclass": "accuracy"}


class Retrainer:
    """Starts and advances retrainings through the services that do the work."""

    def __init__(
        self,
        store: ArtifactStore,
        datasets: DatasetService,
        training: TrainingService,
        registry: RegistryService,
        transform: TransformService,
        endpoints: EndpointService,
    ) -> None:
        self.store = store
        self.datasets = datasets
        self.training = training
        self.registry = registry
        self.transform = transform
        self.endpoints = endpoints

    def start(
        self, schedule: str, number: int, endpoint: str, config: RetrainingConfig
    ) -> dict[str, Any]:
        """Submit the training job; the retraining's first state."""
        state: dict[str, Any] = {"status": "Training", "endpoint": endpoint}
        try:
            info = self.endpoints.get(endpoint)
            variant = max(info.variants, key=lambda v: v.initial_weight)
            current = self.registry.get_version(variant.model_group, variant.model_version)
            if current.training_job is None:
                raise OpenSageError(
                    f"{current.model_group} v{current.version} was uploaded, not trained here; "
                    "there is no training job to run again"
                )
            job = self.training.get(current.training_job)
            channels = dict(job.channels)
            dataset = config.dataset or _trained_on(channels)
            if dataset is None:
                raise OpenSageError("the model was not trained on a platform dataset")
            latest = self.datasets.get_version(dataset)
            for channel, spec in channels.items():
                if "dataset" in spec:
                    channels[channel] = {
                        "dataset": dataset,
                        "version": latest.version,
                        "split": spec.get("split"),
                    }
            name = f"{schedule[:44]}-retrain-{number}"
            definition = {
                "name": name,
                "algorithm": job.algorithm,
                "hyperparameters": job.hyperparameters,
                "channels": channels,
                "cpu_slots": job.cpu_slots,
                "max_runtime_s": job.max_runtime_s,
                "metric_definitions": [m.model_dump() for m in job.metric_definitions],
                "environment": job.environment,
                "tags": {"opensage:monitoring-schedule": schedule},
            }
            if job.script is not None:
                definition["script"] = {"source": "staged", "entry_point": None}
            self.training.create(
                TrainingJobCreate.model_validate(definition), staged_script=job.script
            )
            state.update(
                training_job=name,
                model_group=current.model_group,
                current_version=current.version,
                variant=variant.name,
                dataset=dataset,
                dataset_version=latest.version,
                holdout_split=config.holdout_split,
                label=latest.label,
            )
        except OpenSageError as exc:
            return {**state, "status": "Failed", "failure_reason": exc.message}
        return state

    def advance(
        self, schedule: str, state: dict[str, Any], config: RetrainingConfig, problem: str | None
    ) -> dict[str, Any]:
        """The next state, once what the current one waits for has ended."""
        try:
            if state["status"] == "Training":
                return self._after_training(schedule, state)
            if state["status"] == "Evaluating":
                return self._after_evaluation(state, config, problem)
        except OpenSageError as exc:
            return {**state, "status": "Failed", "failure_reason": exc.message}
        return state

    def _after_training(self, schedule: str, state: dict[str, Any]) -> dict[str, Any]:
        job = self.training.get(state["training_job"])
        if job.status in (TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED):
            return {
                **state,
                "status": "Failed",
                "failure_reason": f"training job {job.name} {job.status.value}: "
                f"{job.failure_reason or ''}".strip(),
            }
        if job.status is not TrainingJobStatus.COMPLETED:
            return state
        candidate = self.registry.register(
            state["model_group"],
            ModelVersionCreate(
                training_job=job.name,
                description=f"Retrained by monitoring schedule {schedule} on "
                f"{state['dataset']} v{state['dataset_version']}.",
            ),
        )
        jobs = {}
        for role, version in (
            ("current", state["current_version"]),
            ("candidate", candidate.version),
        ):
            jobs[role] = model_predictions.start_predictions(
                self.transform,
                f"{schedule[:36]}-holdout-{role}",
                model_group=state["model_group"],
                model_version=version,
                dataset=state["dataset"],
                version=state["dataset_version"],
                split=state["holdout_split"],
            )
        return {
            **state,
            "status": "Evaluating",
            "candidate_version": candidate.version,
            "evaluation_jobs": jobs,
        }

    def _after_evaluation(
        self, state: dict[str, Any], config: RetrainingConfig, problem: str | None
    ) -> dict[str, Any]:
        jobs = {role: self.transform.get(name) for role, name in state["evaluation_jobs"].items()}
        for role, job in jobs.items():
            if job.status in (TransformJobStatus.FAILED, TransformJobStatus.STOPPED):
                return {
                    **state,
                    "status": "Failed",
                    "failure_reason": f"holdout predictions of the {role} model: "
                    f"{job.failure_reason or job.status.value}",
                }
        if any(job.status is not TransformJobStatus.COMPLETED for job in jobs.values()):
            return state
        if problem not in DEFAULT_METRIC or not state.get("label"):
            raise OpenSageError("the model's problem type or the dataset's label is unknown")
        kind: ProblemType = problem  # type: ignore[assignment]
        metric = config.metric or DEFAULT_METRIC[kind]
        truth = model_predictions.read_labels(
            self.datasets,
            state["dataset"],
            state["dataset_version"],
            state["holdout_split"],
            state["label"],
        )
        scores = {}
        for role, job in jobs.items():
            predicted = model_predictions.read_predictions(self.store, job.name)
            if predicted.shape[0] != truth.size:
                raise OpenSageError(f"the {role} model's holdout predictions do not match rows")
            value = score(kind, truth, predicted).metrics.get(metric)
            if value is None:
                raise OpenSageError(f"metric {metric!r} is not computed for {kind} models")
            scores[role] = value
        better = (
            scores["candidate"] < scores["current"]
            if metric in LOWER_IS_BETTER
            else scores["candidate"] > scores["current"]
        )
        result = {
            **state,
            "status": "Completed",
            "metric": metric,
            "current_score": scores["current"],
            "candidate_score": scores["candidate"],
            "better": better,
            "promoted": False,
        }
        comparison = (
            f"holdout {metric} {scores['candidate']:.4g} against "
            f"{scores['current']:.4g} of v{state['current_version']}"
        )
        if better and config.auto_promote:
            self._promote(state, comparison)
            result["promoted"] = True
        else:
            # A worse model is kept for the record but can never be deployed unforced; a
            # better one waits for a person's approval.
            status = ApprovalStatus.PENDING if better else ApprovalStatus.REJECTED
            self.registry.set_approval(
                state["model_group"],
                state["candidate_version"],
                ApprovalUpdate(
                    approval_status=status,
                    description=f"Retrained by monitoring: {comparison}"
                    + ("" if better else " (not better: rejected)"),
                ),
            )
        return result

    def _promote(self, state: dict[str, Any], comparison: str) -> None:
        """Approve the candidate and move the endpoint's variant to it."""
        group, version = state["model_group"], state["candidate_version"]
        self.registry.set_approval(
            group,
            version,
            ApprovalUpdate(
                approval_status=ApprovalStatus.APPROVED,
                description=f"Retrained and promoted by monitoring: {comparison}",
            ),
        )
        endpoint = self.endpoints.get(state["endpoint"])
        variants = []
        for variant in endpoint.variants:
            spec = variant.model_dump()
            if variant.name == state["variant"]:
                spec["model_version"] = version
            variants.append(spec)
        self.endpoints.update(
            endpoint.name,
            EndpointUpdate.model_validate(
                {"variants": variants, "data_capture": endpoint.data_capture.model_dump()}
            ),
        )


def _trained_on(channels: dict[str, Any]) -> str | None:
    spec = channels.get("train") or next(iter(channels.values()), None)
    return spec.get("dataset") if isinstance(spec, dict) else None
