"""The serving capability's control plane: create, update and delete endpoints.

Deploying runs on a background thread per request (the API answers at once with
``Creating`` / ``Updating``); the data plane itself is the endpoint's worker processes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound, ServerUnavailable
from opensage.pagination import (
    Page,
    contains_pattern,
    newest_first,
    newest_first_page,
)
from opensage.registry.schemas import ApprovalStatus
from opensage.registry.service import RegistryService
from opensage.serving.deployer import Deployer, DeployError
from opensage.serving.models import Endpoint
from opensage.serving.schemas import (
    MAX_PAYLOAD_BYTES,
    DataCaptureConfig,
    EndpointConfig,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    VariantOut,
)
from opensage.serving.states import ENDPOINT, EndpointStatus

logger = logging.getLogger(__name__)

E = EndpointStatus


class EndpointService:
    """Endpoints in the metadata store; their workers through the deployer."""

    def __init__(
        self,
        db: Database,
        registry: RegistryService,
        deployer: Deployer,
        *,
        host: str,
        model_cache: Path,
        worker_spec: dict[str, Any],
    ) -> None:
        self.db = db
        self.registry = registry
        self.deployer = deployer
        self.host = host
        self.model_cache = model_cache
        self.worker_spec = worker_spec
        """Settings every worker gets: artifact store, auth, payload limit."""
        self._threads: list[threading.Thread] = []
        registry.in_use = self.serving

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Bring back the endpoints a previous server left serving (their workers died
        with it) and finish deletions it left half done."""
        self.deployer.start_monitor()
        with self.db.reader() as session:
            rows = [(r.name, r.status) for r in session.scalars(select(Endpoint))]
        for name, status in rows:
            if status == E.DELETING.value:
                self._background(self._finish_delete, name)
            elif status != E.FAILED.value:
                self._set_status(name, E.CREATING, reason=None, allow_same=True)
                self._background(self._deploy, name, False)

    def close(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=60)
        self.deployer.close()

    # -- API --------------------------------------------------------------------------
    def create(self, request: EndpointCreate) -> EndpointOut:
        """Check the models (approved, unless forced) and start deploying."""
        config = self._resolve(request)
        with self.db.reader() as session:
            if session.scalar(select(Endpoint.id).where(Endpoint.name == request.name)):
                raise Conflict(f"endpoint {request.name!r} already exists", field="name")
        row = Endpoint(
            name=request.name,
            status=E.CREATING.value,
            config=config,
            port=_free_port(self.host),
            generation=1,
            tags=request.tags,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        try:
            with self.db.transaction() as session:
                session.add(row)
                session.flush()
                out = self._out(row)
        except IntegrityError:
            raise Conflict(f"endpoint {request.name!r} already exists", field="name") from None
        self._background(self._deploy, request.name, False)
        return out

    def update(self, name: str, request: EndpointUpdate) -> EndpointOut:
        """Serve a new config: the new workers start, then the old ones drain."""
        config = self._resolve(request)
        with self.db.transaction() as session:
            row = self._get(session, name, lock=True)
            current = E(row.status)
            if current is not E.IN_SERVICE:
                raise Conflict(
                    f"endpoint {name!r} is {current.value}; it can be updated when InService",
                    field="name",
                )
            ENDPOINT.check(current, E.UPDATING)
            row.status = E.UPDATING.value
            row.failure_reason = None
            row.config = {
                **config,
                "previous": {k: v for k, v in row.config.items() if k != "previous"},
            }
            row.generation += 1
            row.updated_at = utcnow()
            out = self._out(row)
        self._background(self._deploy, name, True)
        return out

    def delete(self, name: str) -> None:
        """Stop the endpoint's workers and forget it."""
        with self.db.transaction() as session:
            row = self._get(session, name, lock=True)
            if row.status != E.DELETING.value:
                ENDPOINT.check(E(row.status), E.DELETING)
                row.status = E.DELETING.value
        self._finish_delete(name)

    def get(self, name: str) -> EndpointOut:
        with self.db.reader() as session:
            return self._out(self._get(session, name))

    def list_endpoints(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        status: EndpointStatus | None = None,
        name_contains: str | None = None,
    ) -> Page[EndpointOut]:
        """Endpoints, newest first."""
        query = newest_first(select(Endpoint), Endpoint, limit, page_token)
        if status is not None:
            query = query.where(Endpoint.status == status.value)
        if name_contains:
            query = query.where(Endpoint.name.like(contains_pattern(name_contains), escape="\\"))
        with self.db.reader() as session:
            rows = list(session.scalars(query).all())
            return newest_first_page(rows, limit, lambda r: self._out(r))

    def live_metrics(self, name: str) -> dict[str, Any]:
        """The endpoint's counters from its data plane's ``/metrics`` right now, summed
        over variants: invocations, errors by kind, and the latency histograms (model and
        total) as cumulative buckets. Rates come from two readings."""
        port = self.get(name).data_plane_port
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        try:
            text = httpx.get(f"http://{_url_host(host)}:{port}/metrics", timeout=2.0).text
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"the data plane of {name!r} does not answer: {exc}") from None
        return summarize_metrics(text)

    def serving(self, group: str, version: int | None) -> list[str]:
        """Endpoints whose config uses the model group (or that version of it)."""
        with self.db.reader() as session:
            rows = session.scalars(select(Endpoint)).all()
            found = []
            for row in rows:
                for variant in row.config.get("variants", []):
                    if variant["model_group"] == group and version in (
                        None,
                        variant["model_version"],
                    ):
                        found.append(row.name)
                        break
            return found

    # -- deploying --------------------------------------------------------------------
    def _resolve(self, request: EndpointConfig) -> dict[str, Any]:
        variants = []
        for index, variant in enumerate(request.variants):
            field = f"variants.{index}.model_group"
            try:
                if variant.model_version is None:
                    version = self.registry.latest_approved(variant.model_group)
                else:
                    version = self.registry.get_version(variant.model_group, variant.model_version)
            except (NotFound, InvalidInput) as exc:
                raise InvalidInput(exc.message, field=field) from None
            if version.approval_status is not ApprovalStatus.APPROVED and not request.force:
                raise InvalidInput(
                    f"{variant.model_group} v{version.version} is "
                    f"{version.approval_status.value}; approve it, or deploy with force",
                    field=field,
                )
            variants.append({**variant.model_dump(), "model_version": version.version})
        return {"variants": variants, "data_capture": request.data_capture.model_dump()}

    def _deploy(self, name: str, updating: bool) -> None:
        with self.db.reader() as session:
            row = self._get(session, name)
            config, port, generation = row.config, row.port, row.generation
        try:
            spec = self._spec(name, config, port)
            self.deployer.deploy(name, spec, generation)
        except (DeployError, OSError, NotFound) as exc:
            logger.warning("endpoint %s could not deploy: %s", name, exc)
            with contextlib.suppress(NotFound, Conflict):  # deleted meanwhile
                if updating and "previous" in config:
                    with self.db.transaction() as session:
                        row = self._get(session, name, lock=True)
                        ENDPOINT.check(E(row.status), E.IN_SERVICE)
                        row.config = config["previous"]
                        row.status = E.IN_SERVICE.value
                        row.failure_reason = f"the update failed and was rolled back: {exc}"
                        row.updated_at = utcnow()
                    return
                self._set_status(name, E.FAILED, reason=str(exc))
            return
        with contextlib.suppress(NotFound, Conflict), self.db.transaction() as session:
            row = self._get(session, name, lock=True)
            ENDPOINT.check(E(row.status), E.IN_SERVICE)
            row.status = E.IN_SERVICE.value
            row.failure_reason = None
            row.config = {k: v for k, v in row.config.items() if k != "previous"}
            row.updated_at = utcnow()

    def _spec(self, name: str, config: dict[str, Any], port: int) -> dict[str, Any]:
        variants = []
        for variant in config["variants"]:
            group, version = variant["model_group"], variant["model_version"]
            target = self.model_cache / group / f"v{version}"
            if not target.exists():
                partial = target.with_name(f"{target.name}.partial")
                self.registry.download(group, version, partial)
                partial.rename(target)
            variants.append(
                {
                    "name": variant["name"],
                    "weight": variant["initial_weight"],
                    "model_dir": str(target),
                    "max_batch_size": variant["max_batch_size"],
                    "max_batch_wait_ms": variant["max_batch_wait_ms"],
                }
            )
        capture = config.get("data_capture") or {}
        return {
            **self.worker_spec,
            "endpoint": name,
            "host": self.host,
            "port": port,
            "variants": variants,
            "instance_count": max(v["instance_count"] for v in config["variants"]),
            "capture": capture if capture.get("enabled") else None,
            "max_payload_bytes": MAX_PAYLOAD_BYTES,
        }

    def _finish_delete(self, name: str) -> None:
        self.deployer.stop(name)
        with self.db.transaction() as session:
            row = session.scalar(select(Endpoint).where(Endpoint.name == name))
            if row is not None:
                session.delete(row)

    def _background(self, target: Any, *args: Any) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, name="opensage-deploy", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _set_status(
        self, name: str, status: EndpointStatus, *, reason: str | None, allow_same: bool = False
    ) -> None:
        with self.db.transaction() as session:
            row = self._get(session, name, lock=True)
            current = E(row.status)
            if not (allow_same and current is status):
                ENDPOINT.check(current, status)
            row.status = status.value
            row.failure_reason = reason
            row.updated_at = utcnow()

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _get(session: Session, name: str, *, lock: bool = False) -> Endpoint:
        query = select(Endpoint).where(Endpoint.name == name)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound(f"endpoint {name!r} does not exist", field="name")
        return row

    def _out(self, row: Endpoint) -> EndpointOut:
        # On a wildcard address the URL names it as such: clients use the host they
        # already reach the control plane by.
        host = f"[{self.host}]" if ":" in self.host else self.host
        return EndpointOut(
            name=row.name,
            status=E(row.status),
            failure_reason=row.failure_reason,
            variants=[VariantOut.model_validate(v) for v in row.config["variants"]],
            data_capture=DataCaptureConfig.model_validate(row.config.get("data_capture") or {}),
            data_plane_port=row.port,
            invocation_url=f"http://{host}:{row.port}/endpoints/{row.name}/invocations",
            tags=row.tags,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def summarize_metrics(text: str) -> dict[str, Any]:
    """Invocation counters and latency buckets of a data plane's Prometheus text."""
    invocations = 0.0
    errors: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {"model": {}, "overhead": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "opensage_invocations_total":
                invocations += sample.value
            elif sample.name == "opensage_invocation_errors_total":
                kind = sample.labels.get("kind", "other")
                errors[kind] = errors.get(kind, 0.0) + sample.value
            elif sample.name.endswith("_latency_seconds_bucket"):
                which = "model" if sample.name.startswith("opensage_model") else "overhead"
                bound = float(sample.labels["le"])
                buckets[which][bound] = buckets[which].get(bound, 0.0) + sample.value
    return {
        "invocations": invocations,
        "errors": errors,
        "latency_buckets": {k: sorted(v.items()) for k, v in buckets.items()},
    }


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
