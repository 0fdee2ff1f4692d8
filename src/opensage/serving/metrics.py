"""Prometheus metrics of the data plane, shared by an endpoint's worker processes
(prometheus-client's multiprocess mode, in the endpoint's runtime folder)."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class EndpointMetrics:
    """Invocations, errors by kind, and model / overhead latency per endpoint and variant."""

    def __init__(self) -> None:
        labels = ["endpoint", "variant"]
        self.invocations = Counter("opensage_invocations", "Successful invocations.", labels)
        self.errors = Counter(
            "opensage_invocation_errors", "Failed invocations by kind (4xx, 5xx, model).",
            [*labels, "kind"],
        )  # fmt: skip
        self.model_latency = Histogram(
            "opensage_model_latency_seconds", "Time in the model (batched predict).", labels,
            buckets=_BUCKETS,
        )  # fmt: skip
        self.overhead_latency = Histogram(
            "opensage_overhead_latency_seconds", "Time outside the model (parse, render).",
            labels, buckets=_BUCKETS,
        )  # fmt: skip
        # Per (endpoint, variant): its three series, looked up once rather than per request.
        self._series: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    def observe(self, endpoint: str, variant: str, model_s: float, overhead_s: float) -> None:
        series = self._series.get((endpoint, variant))
        if series is None:
            series = self._series[(endpoint, variant)] = (
                self.invocations.labels(endpoint, variant),
                self.model_latency.labels(endpoint, variant),
                self.overhead_latency.labels(endpoint, variant),
            )
        invocations, model_latency, overhead_latency = series
        invocations.inc()
        model_latency.observe(model_s)
        overhead_latency.observe(max(overhead_s, 0.0))

    def error(self, endpoint: str, variant: str, kind: str) -> None:
        self.errors.labels(endpoint, variant, kind).inc()

    @staticmethod
    def render() -> tuple[bytes, str]:
        """Every worker's metrics, merged."""
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
