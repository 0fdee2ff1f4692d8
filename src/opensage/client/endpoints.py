"""SDK resources for endpoints: ``client.endpoints`` and ``Endpoint`` objects that predict.

Predictions go straight to the endpoint's data plane (its own port), one hop, with the
client's API key.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from opensage.client.http import HTTPSession, iter_pages
from opensage.client.monitoring import (
    Baseline,
    MonitoringSchedule,
    MonitoringSchedules,
    upload_ground_truth,
)
from opensage.client.resource import Resource
from opensage.errors import (
    InvalidInput,
    ModelError,
    OpenSageError,
    PayloadTooLarge,
    ServerUnavailable,
    error_from_body,
)
from opensage.monitoring.schemas import GroundTruthResult
from opensage.serving.schemas import EndpointOut
from opensage.serving.states import EndpointStatus

_SETTLED = (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED)
_RETRIES = 3


class Endpoint(Resource[EndpointOut]):
    """An endpoint on the server; ``predict`` sends rows to its data plane."""

    info_type = EndpointOut

    def __init__(self, session: HTTPSession, info: EndpointOut) -> None:
        super().__init__(session, info)
        self._data_plane: httpx.Client | None = None

    @property
    def path(self) -> str:
        return f"/api/v1/endpoints/{self.name}"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> EndpointStatus:
        return self.info.status

    def __repr__(self) -> str:
        return f"Endpoint(name={self.name!r}, status={self.status.value})"

    def wait(self, timeout: float = 120.0, poll_s: float = 0.1) -> Endpoint:
        """Block until the endpoint is InService (raise if it Failed or time ran out)."""
        self._wait_while(
            lambda: self.status not in _SETTLED,
            timeout,
            poll_s,
            lambda: f"endpoint {self.name} still {self.status.value}",
        )
        if self.status is EndpointStatus.FAILED:
            raise OpenSageError(f"endpoint {self.name} failed: {self.info.failure_reason}")
        return self

    def update(
        self,
        variants: list[dict[str, Any]],
        *,
        data_capture: dict[str, Any] | None = None,
        force: bool = False,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        """Serve a new config (blue/green); with ``wait``, until it is InService again."""
        self._send("PUT", json=_config(variants, data_capture, force))
        return self.wait(timeout=timeout) if wait else self

    def delete(self) -> None:
        """Stop the endpoint and delete it."""
        self._session.request("DELETE", self.path)
        self.close()

    def close(self) -> None:
        """Close the connections to the data plane (the endpoint keeps serving)."""
        if self._data_plane is not None:
            self._data_plane.close()
            self._data_plane = None

    def monitor(
        self,
        baseline: Any,
        *,
        every: str | int | None = "1h",
        cron: str | None = None,
        name: str | None = None,
        split: str | None = None,
        webhook_url: str | None = None,
        retraining: dict[str, Any] | None = None,
        problem_type: str | None = None,
    ) -> MonitoringSchedule:
        """Monitor this endpoint's captured traffic against ``baseline``: a dataset (its
        name or ``Dataset``; the baseline is computed from it, or from its ``split``), or a
        ``Baseline``. Runs ``every`` interval (or on a ``cron`` expression)."""
        if isinstance(baseline, Baseline):
            spec: Any = baseline.name
        else:
            dataset = baseline if isinstance(baseline, str) else baseline.name
            spec = {"dataset": dataset, "split": split}
        return MonitoringSchedules(self._session).create(
            name or f"{self.name[:55]}-monitor",
            self.name,
            spec,
            every=None if cron else every,
            cron=cron,
            webhook_url=webhook_url,
            retraining=retraining,
            problem_type=problem_type,
        )

    def upload_ground_truth(self, records: list[dict[str, Any]] | bytes) -> GroundTruthResult:
        """Labels for this endpoint's captured requests, by event id (the
        ``X-OpenSage-Event-Id`` of the answer) or your own inference id."""
        return upload_ground_truth(self._session, self.name, records)

    def predict(
        self, rows: Any, *, target_variant: str | None = None, inference_id: str | None = None
    ) -> list[Any]:
        """Predictions for ``rows``: a list of feature lists, of dicts keyed by feature
        name, or a 2-D array (one prediction per row). ``inference_id`` is your own id of
        the request, to upload its ground truth under later."""
        if hasattr(rows, "tolist"):
            rows = rows.tolist()
        body = orjson.dumps({"instances": rows})
        answer = self.invoke(
            body, "application/json", target_variant=target_variant, inference_id=inference_id
        )
        predictions: list[Any] = orjson.loads(answer.content)["predictions"]
        return predictions

    def invoke(
        self,
        body: bytes,
        content_type: str,
        *,
        accept: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> httpx.Response:
        """One raw invocation (SageMaker's InvokeEndpoint); errors raise typed exceptions.
        The response's ``X-OpenSage-Event-Id`` header names the captured event."""
        headers = {"Content-Type": content_type}
        if inference_id:
            headers["X-Amzn-SageMaker-Inference-Id"] = inference_id
        if accept:
            headers["Accept"] = accept
        if target_variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = target_variant
        client = self._client()
        path = f"/endpoints/{self.name}/invocations"
        for attempt in range(_RETRIES):
            try:
                response = client.post(path, content=body, headers=headers)
                break
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # A worker retiring in a blue/green swap may close an idle connection
                # just as it is reused: predictions are idempotent, so send again.
                if attempt == _RETRIES - 1:
                    raise ServerUnavailable(f"endpoint {self.name} unreachable: {exc}") from None
                time.sleep(0.05 * (attempt + 1))
        if response.is_error:
            raise _invocation_error(response)
        return response

    def _client(self) -> httpx.Client:
        if self._data_plane is None:
            host = urlsplit(self.info.invocation_url).hostname or "127.0.0.1"
            if host in ("0.0.0.0", "::"):  # the server listens everywhere
                host = urlsplit(self._session.url).hostname or "127.0.0.1"
            if ":" in host:
                host = f"[{host}]"
            self._data_plane = httpx.Client(
                base_url=f"http://{host}:{self.info.data_plane_port}",
                headers=self._session.auth_headers(),
                timeout=60.0,
            )
        return self._data_plane


class Endpoints:
    """``client.endpoints``: create and find endpoints."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        *,
        variants: list[dict[str, Any]],
        data_capture: dict[str, Any] | None = None,
        force: bool = False,
        tags: dict[str, str] | None = None,
    ) -> Endpoint:
        """Create an endpoint serving ``variants`` (model_group, model_version,
        instance_count, initial_weight, max_batch_size, max_batch_wait_ms each)."""
        body = {"name": name, "tags": tags or {}, **_config(variants, data_capture, force)}
        info = self._session.json("POST", "/api/v1/endpoints", json=body)
        return Endpoint(self._session, EndpointOut.model_validate(info))

    def get(self, name: str) -> Endpoint:
        body = self._session.json("GET", f"/api/v1/endpoints/{name}")
        return Endpoint(self._session, EndpointOut.model_validate(body))

    def list(self, *, status: str | None = None) -> list[Endpoint]:
        params = {"status": status} if status else None
        return [
            Endpoint(self._session, info)
            for info in iter_pages(self._session, "/api/v1/endpoints", EndpointOut, params)
        ]


def _config(
    variants: list[dict[str, Any]], data_capture: dict[str, Any] | None, force: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"variants": variants, "force": force}
    if data_capture is not None:
        body["data_capture"] = data_capture
    return body


def _invocation_error(response: httpx.Response) -> OpenSageError:
    try:
        body = response.json()
        message = str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return error_from_body(response.status_code, response.text)
    if response.status_code == 424:
        return ModelError(message)
    if response.status_code == 413:
        return PayloadTooLarge(message)
    if response.status_code == 503:
        return ServerUnavailable(message)
    if response.status_code in (400, 406, 415):
        return InvalidInput(f"{message} (HTTP {response.status_code})")
    return error_from_body(response.status_code, body)
