"""The registry: model groups, their numbered versions, approval, and model files.

Registering copies the model's files into ``models/<group>/v<version>/`` in the artifact
store, so a version stays servable when its training job is deleted.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.algorithms.base import MANIFEST
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.names import validate_name
from opensage.pagination import (
    Page,
    contains_pattern,
    newest_first,
    newest_first_page,
)
from opensage.registry.models import ModelGroup, ModelVersion
from opensage.registry.schemas import (
    ApprovalStatus,
    ApprovalUpdate,
    ModelGroupCreate,
    ModelGroupOut,
    ModelVersionCreate,
    ModelVersionOut,
)
from opensage.storage import ArtifactStore
from opensage.storage.uploads import UPLOAD_PREFIX, UploadArea
from opensage.training.service import TrainingService
from opensage.training.states import TrainingJobStatus

INFERENCE_CODE = "code/inference.py"


class RegistryService:
    """Model groups and versions in the metadata store; their files in the artifact store."""

    def __init__(
        self, db: Database, store: ArtifactStore, uploads: UploadArea, training: TrainingService
    ) -> None:
        self.db = db
        self.store = store
        self.uploads = uploads
        self.training = training
        self.in_use: Callable[[str, int | None], list[str]] = lambda group, version: []
        """Names of endpoints serving a group (or one version of it); set by serving."""

    # -- groups -----------------------------------------------------------------------
    def create_group(self, request: ModelGroupCreate) -> ModelGroupOut:
        """A new, empty model group."""
        try:
            with self.db.transaction() as session:
                if session.scalar(select(ModelGroup.id).where(ModelGroup.name == request.name)):
                    raise Conflict(f"model group {request.name!r} already exists", field="name")
                group = ModelGroup(
                    name=request.name, description=request.description, created_at=utcnow()
                )
                session.add(group)
                session.flush()
                return self._group_out(session, group)
        except IntegrityError:
            raise Conflict(f"model group {request.name!r} already exists", field="name") from None

    def get_group(self, name: str) -> ModelGroupOut:
        with self.db.reader() as session:
            return self._group_out(session, self._group(session, name))

    def list_groups(
        self, *, limit: int = 50, page_token: str | None = None, name_contains: str | None = None
    ) -> Page[ModelGroupOut]:
        """Model groups, newest first."""
        query = newest_first(select(ModelGroup), ModelGroup, limit, page_token)
        if name_contains:
            query = query.where(ModelGroup.name.like(contains_pattern(name_contains), escape="\\"))
        with self.db.reader() as session:
            rows = list(session.scalars(query).all())
            return newest_first_page(rows, limit, lambda row: self._group_out(session, row))

    def delete_group(self, name: str) -> None:
        """Delete a group and all its versions (none may be deployed)."""
        serving = self.in_use(name, None)
        if serving:
            raise Conflict(
                f"model group {name!r} is deployed on endpoint(s) {serving}; delete them first",
                field="name",
            )
        with self.db.transaction() as session:
            session.delete(self._group(session, name))
        self.store.delete_prefix(f"models/{name}")

    # -- versions ---------------------------------------------------------------------
    def register(self, group_name: str, request: ModelVersionCreate) -> ModelVersionOut:
        """A new version of ``group_name`` (created on first use) from a training job's
        model or uploaded model files."""
        validate_name(group_name, "name")
        scratch = Path(tempfile.mkdtemp(prefix="opensage-register-"))
        try:
            if request.training_job is not None:
                files, lineage, metrics, algorithm = self._from_training_job(
                    request.training_job, scratch
                )
            else:
                assert request.source is not None
                files, lineage, metrics, algorithm = self._from_upload(request.source, scratch)
            manifest = _check_model_files(files)
            with self.db.transaction() as session:
                group = session.scalar(
                    select(ModelGroup).where(ModelGroup.name == group_name).with_for_update()
                )
                if group is None:
                    group = ModelGroup(name=group_name, description="", created_at=utcnow())
                    session.add(group)
                    session.flush()
                latest = session.scalar(
                    select(func.max(ModelVersion.version)).where(ModelVersion.group_id == group.id)
                )
                number = (latest or 0) + 1
                prefix = f"models/{group_name}/v{number}"
                for relative, path in files.items():
                    self.store.put_file(path, f"{prefix}/{relative}")
                row = ModelVersion(
                    group_id=group.id,
                    version=number,
                    approval_status=request.approval_status.value,
                    artifact=prefix,
                    algorithm=algorithm or manifest.get("algorithm"),
                    manifest=manifest,
                    metrics=metrics or dict(manifest.get("metrics") or {}),
                    training_job=request.training_job,
                    lineage=lineage,
                    description=request.description,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                out = self._version_out(group.name, row)
        except IntegrityError:
            raise Conflict(
                f"another version of {group_name!r} was registered at the same moment; retry",
                field="name",
            ) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if request.source is not None:
            self.uploads.discard(request.source)
        return out

    def get_version(self, group_name: str, version: int | None = None) -> ModelVersionOut:
        """One version (the newest when ``version`` is None)."""
        with self.db.reader() as session:
            row = self._version(session, group_name, version)
            return self._version_out(group_name, row)

    def latest_approved(self, group_name: str) -> ModelVersionOut:
        """The newest approved version of a group."""
        with self.db.reader() as session:
            group = self._group(session, group_name)
            row = session.scalar(
                select(ModelVersion)
                .where(
                    ModelVersion.group_id == group.id,
                    ModelVersion.approval_status == ApprovalStatus.APPROVED.value,
                )
                .order_by(ModelVersion.version.desc())
                .limit(1)
            )
            if row is None:
                raise InvalidInput(
                    f"model group {group_name!r} has no approved version", field="model"
                )
            return self._version_out(group_name, row)

    def list_versions(self, group_name: str) -> list[ModelVersionOut]:
        """Every version of a group, newest first."""
        with self.db.reader() as session:
            group = self._group(session, group_name)
            rows = session.scalars(
                select(ModelVersion)
                .where(ModelVersion.group_id == group.id)
                .order_by(ModelVersion.version.desc())
            ).all()
            return [self._version_out(group_name, row) for row in rows]

    def set_approval(
        self, group_name: str, version: int, update: ApprovalUpdate
    ) -> ModelVersionOut:
        """Approve or reject a version (a deployed version cannot be rejected)."""
        if update.approval_status is ApprovalStatus.REJECTED and self.in_use(group_name, version):
            raise Conflict(
                f"{group_name} v{version} is deployed on {self.in_use(group_name, version)}; "
                "move the endpoints to another version before rejecting it",
                field="approval_status",
            )
        with self.db.transaction() as session:
            row = self._version(session, group_name, version)
            row.approval_status = update.approval_status.value
            if update.description is not None:
                row.description = update.description
            return self._version_out(group_name, row)

    def delete_version(self, group_name: str, version: int) -> None:
        """Delete a version that no endpoint serves."""
        serving = self.in_use(group_name, version)
        if serving:
            raise Conflict(
                f"{group_name} v{version} is deployed on endpoint(s) {serving}", field="version"
            )
        with self.db.transaction() as session:
            row = self._version(session, group_name, version)
            prefix = row.artifact
            session.delete(row)
        self.store.delete_prefix(prefix)

    def download(self, group_name: str, version: int, target: Path) -> Path:
        """Copy a version's files to ``target`` (a local folder) and return it."""
        with self.db.reader() as session:
            prefix = self._version(session, group_name, version).artifact
        for key in self.store.list(prefix):
            local = target / key[len(prefix) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            with self.store.open_read(key) as source, local.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        return target

    # -- sources ----------------------------------------------------------------------
    def _from_training_job(
        self, name: str, scratch: Path
    ) -> tuple[dict[str, Path], dict[str, Any], dict[str, float], str | None]:
        try:
            job = self.training.get(name)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="training_job") from None
        if job.status is not TrainingJobStatus.COMPLETED:
            raise InvalidInput(
                f"training job {name!r} is {job.status.value}; only a completed job's model "
                "can be registered",
                field="training_job",
            )
        prefix = self.training.model_prefix(name)
        if prefix is None:
            raise InvalidInput(f"training job {name!r} saved no model", field="training_job")
        files: dict[str, Path] = {}
        for key in self.store.list(prefix):
            relative = key[len(prefix) + 1 :]
            local = scratch / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            with self.store.open_read(key) as source, local.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            files[relative] = local
        lineage = {
            "training_job": name,
            "algorithm": job.algorithm,
            "hyperparameters": job.hyperparameters,
            "channels": job.channels,
        }
        metrics = {k: float(v) for k, v in job.final_metrics.items()}
        return files, lineage, metrics, job.algorithm

    def _from_upload(
        self, source: str, scratch: Path
    ) -> tuple[dict[str, Path], dict[str, Any], dict[str, float], str | None]:
        if not source.startswith(UPLOAD_PREFIX):
            raise InvalidInput("source must be an upload:<id> of a .tar.gz", field="source")
        archive, filename = self.uploads.resolve(source)
        if not filename.endswith((".tar.gz", ".tgz")):
            raise InvalidInput("model files come as a .tar.gz archive", field="source")
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInput(f"cannot read the model archive: {exc}", field="source") from None
        files = {
            p.relative_to(scratch).as_posix(): p for p in sorted(scratch.rglob("*")) if p.is_file()
        }
        return files, {"source": "upload", "filename": filename}, {}, None

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _group(session: Session, name: str) -> ModelGroup:
        group = session.scalar(select(ModelGroup).where(ModelGroup.name == name))
        if group is None:
            raise NotFound(f"model group {name!r} does not exist", field="name")
        return group

    def _version(self, session: Session, group_name: str, version: int | None) -> ModelVersion:
        group = self._group(session, group_name)
        query = select(ModelVersion).where(ModelVersion.group_id == group.id)
        if version is None:
            query = query.order_by(ModelVersion.version.desc()).limit(1)
        else:
            query = query.where(ModelVersion.version == version)
        row = session.scalar(query)
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFound(f"model group {group_name!r} has no {which}", field="version")
        return row

    @staticmethod
    def _group_out(session: Session, group: ModelGroup) -> ModelGroupOut:
        latest = session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.group_id == group.id)
        )
        return ModelGroupOut(
            name=group.name,
            description=group.description,
            latest_version=latest,
            created_at=group.created_at,
        )

    def _version_out(self, group_name: str, row: ModelVersion) -> ModelVersionOut:
        manifest = row.manifest or {}
        return ModelVersionOut(
            model_group=group_name,
            version=row.version,
            approval_status=ApprovalStatus(row.approval_status),
            algorithm=row.algorithm,
            problem_type=manifest.get("problem_type"),
            feature_names=list(manifest.get("feature_names") or []),
            metrics=row.metrics,
            training_job=row.training_job,
            lineage=row.lineage,
            description=row.description,
            artifact_url=self.store.url(row.artifact),
            created_at=row.created_at,
        )


def _check_model_files(files: dict[str, Path]) -> dict[str, Any]:
    """The model's manifest; a model without one needs its own inference code."""
    if MANIFEST in files:
        try:
            manifest: dict[str, Any] = json.loads(files[MANIFEST].read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"the model's {MANIFEST} is not JSON: {exc}", field="source"
            ) from None
        return manifest
    if INFERENCE_CODE in files:
        return {}
    raise InvalidInput(
        f"the model has neither a {MANIFEST} (a built-in's model) nor {INFERENCE_CODE} "
        "(your own model_fn / predict_fn), so it could not be served",
        field="source",
    )
