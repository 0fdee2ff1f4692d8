"""SDK resources for the model registry: ``client.models`` and ``ModelVersion`` objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opensage.client.http import HTTPSession, iter_pages
from opensage.client.resource import Resource
from opensage.registry.schemas import ModelGroupOut, ModelVersionOut

if TYPE_CHECKING:
    from opensage.client.endpoints import Endpoint


class ModelVersion(Resource[ModelVersionOut]):
    """One registered version of a model group."""

    info_type = ModelVersionOut

    @property
    def path(self) -> str:
        return f"/api/v1/model-groups/{self.model_group}/versions/{self.version}"

    @property
    def model_group(self) -> str:
        return self.info.model_group

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def approval_status(self) -> str:
        return self.info.approval_status.value

    def __repr__(self) -> str:
        return f"ModelVersion({self.model_group!r}, version={self.version}, {self.approval_status})"

    def approve(self, description: str | None = None) -> ModelVersion:
        """Mark the version Approved (it may then be deployed)."""
        return self._set("Approved", description)

    def reject(self, description: str | None = None) -> ModelVersion:
        """Mark the version Rejected."""
        return self._set("Rejected", description)

    def _set(self, status: str, description: str | None) -> ModelVersion:
        body: dict[str, Any] = {"approval_status": status}
        if description is not None:
            body["description"] = description
        return self._send("PATCH", json=body)

    def deploy(
        self,
        endpoint_name: str,
        *,
        instances: int = 1,
        force: bool = False,
        data_capture: dict[str, Any] | None = None,
        max_batch_size: int | None = None,
        max_batch_wait_ms: float | None = None,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        """Serve this version on a new endpoint; returns it (ready, unless ``wait`` is off)."""
        from opensage.client.endpoints import Endpoints

        variant: dict[str, Any] = {
            "model_group": self.model_group,
            "model_version": self.version,
            "instance_count": instances,
        }
        if max_batch_size is not None:
            variant["max_batch_size"] = max_batch_size
        if max_batch_wait_ms is not None:
            variant["max_batch_wait_ms"] = max_batch_wait_ms
        endpoint = Endpoints(self._session).create(
            endpoint_name, variants=[variant], data_capture=data_capture, force=force
        )
        return endpoint.wait(timeout=timeout) if wait else endpoint

    def delete(self) -> None:
        """Delete the version (no endpoint may serve it)."""
        self._session.request("DELETE", self.path)


class Models:
    """``client.models``: model groups and their versions."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def register(
        self,
        model_group: str,
        *,
        training_job: str | None = None,
        source: str | None = None,
        description: str = "",
        approval_status: str = "PendingManualApproval",
    ) -> ModelVersion:
        """Register a completed training job's model (or uploaded ``source`` files)."""
        body = {
            "training_job": training_job,
            "source": source,
            "description": description,
            "approval_status": approval_status,
        }
        info = self._session.json("POST", f"/api/v1/model-groups/{model_group}/versions", json=body)
        return ModelVersion(self._session, ModelVersionOut.model_validate(info))

    def get(self, model_group: str, version: int | None = None) -> ModelVersion:
        """A version (the newest when ``version`` is None)."""
        if version is None:
            versions = self.versions(model_group)
            if not versions:
                from opensage.errors import NotFound

                raise NotFound(f"model group {model_group!r} has no version", field="version")
            return versions[0]
        body = self._session.json("GET", f"/api/v1/model-groups/{model_group}/versions/{version}")
        return ModelVersion(self._session, ModelVersionOut.model_validate(body))

    def versions(self, model_group: str) -> list[ModelVersion]:
        """Every version of a group, newest first."""
        body = self._session.json("GET", f"/api/v1/model-groups/{model_group}/versions")
        return [ModelVersion(self._session, ModelVersionOut.model_validate(b)) for b in body]

    def groups(self, *, name_contains: str | None = None) -> list[ModelGroupOut]:
        """Model groups, newest first."""
        params = {"name_contains": name_contains} if name_contains else None
        return list(iter_pages(self._session, "/api/v1/model-groups", ModelGroupOut, params))

    def delete_group(self, model_group: str) -> None:
        """Delete a group and its versions."""
        self._session.request("DELETE", f"/api/v1/model-groups/{model_group}")
