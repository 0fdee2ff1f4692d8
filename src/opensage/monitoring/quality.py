"""Model quality with late labels: ground truth uploaded by event id, joined to the
captured predictions, scored with scikit-learn.

Uploads are checked whole before anything is stored (a malformed line rejects the upload
and names the line), then written as one JSON Lines file per upload under
``endpoints/<name>/ground-truth/YYYY/MM/DD/HH/``. A later upload for the same event wins.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from sklearn import metrics as sk

from opensage.errors import InvalidInput
from opensage.monitoring.captured import Window
from opensage.monitoring.schemas import MetricBound, ModelQuality, ProblemType, Violation
from opensage.monitoring.schemas import ViolationType as V
from opensage.storage import ArtifactStore

MAX_RECORDS = 1_000_000


def ground_truth_prefix(endpoint: str) -> str:
    return f"endpoints/{endpoint}/ground-truth"


def parse_ground_truth(body: bytes) -> list[tuple[str, Any]]:
    """(event id, label) pairs of an upload: JSON Lines or a JSON list of records, each
    ``{"eventId": ..., "groundTruth": ...}`` or SageMaker's
    ``{"groundTruthData": {"data": ..., "encoding": "CSV"|"JSON"}, "eventMetadata":
    {"eventId": ...}}``. A label is a number, or a list of numbers (one per row of a
    request with several rows)."""
    text = body.strip()
    if not text:
        raise InvalidInput("the ground truth upload is empty", field="body")
    records: list[Any] = []
    where: list[str] = []
    if text.startswith(b"["):
        try:
            records = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the ground truth is not valid JSON: {exc}", field="body") from None
        if not isinstance(records, list):
            raise InvalidInput("the ground truth is not a JSON list", field="body")
        where = [f"record {i}" for i in range(len(records))]
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise InvalidInput(
                        f"line {number} is not valid JSON: {exc}", field=f"line {number}"
                    ) from None
                where.append(f"line {number}")
    if len(records) > MAX_RECORDS:
        raise InvalidInput(f"at most {MAX_RECORDS:,} records per upload", field="body")
    return [_record(record, place) for record, place in zip(records, where, strict=True)]


def _record(record: Any, where: str) -> tuple[str, Any]:
    if not isinstance(record, dict):
        raise InvalidInput(f"{where}: a record is an object with eventId", field=where)
    event = record.get("eventId", (record.get("eventMetadata") or {}).get("eventId"))
    if not isinstance(event, str) or not event.strip():
        raise InvalidInput(f"{where}: eventId is missing or not a string", field=where)
    if "groundTruth" in record:
        label = record["groundTruth"]
    elif isinstance(record.get("groundTruthData"), dict):
        data = record["groundTruthData"]
        raw = data.get("data")
        if not isinstance(raw, str):
            raise InvalidInput(f"{where}: groundTruthData.data must be text", field=where)
        try:
            if data.get("encoding", "CSV").upper() == "JSON":
                label = orjson.loads(raw)
            else:
                parts = [float(v) for v in raw.replace("\n", ",").split(",") if v.strip()]
                label = parts[0] if len(parts) == 1 else parts
        except (ValueError, orjson.JSONDecodeError):
            raise InvalidInput(
                f"{where}: groundTruthData.data is not a label", field=where
            ) from None
    else:
        raise InvalidInput(f"{where}: groundTruth is missing", field=where)
    return event, _label(label, where)


def _label(value: Any, where: str) -> float | list[float]:
    if isinstance(value, list):
        if not value:
            raise InvalidInput(f"{where}: the label list is empty", field=where)
        return [_number(v, where) for v in value]
    return _number(value, where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise InvalidInput(f"{where}: the label {value!r} is not a finite number", field=where)


def store_ground_truth(store: ArtifactStore, endpoint: str, pairs: list[tuple[str, Any]]) -> str:
    """Write an upload atomically; its key."""
    now = datetime.now(UTC)
    key = (
        f"{ground_truth_prefix(endpoint)}/{now:%Y/%m/%d/%H}/"
        f"{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl"
    )
    lines = [orjson.dumps({"eventId": e, "groundTruth": label}) for e, label in pairs]
    store.put_bytes(b"\n".join(lines) + b"\n", key)
    return key


def read_ground_truth(
    store: ArtifactStore, endpoint: str, since: datetime | None = None
) -> dict[str, Any]:
    """The labels uploaded for ``endpoint`` (from the hour of ``since`` on: labels come
    after the requests they are for), by event id; later uploads win."""
    prefix = ground_truth_prefix(endpoint)
    first_hour = since.astimezone(UTC).strftime("%Y/%m/%d/%H") if since else ""
    labels: dict[str, Any] = {}
    for key in store.list(prefix):  # sorted: oldest first
        if key[len(prefix) + 1 : len(prefix) + 14] < first_hour:
            continue
        for line in store.read_bytes(key).splitlines():
            if line.strip():
                record = orjson.loads(line)
                labels[record["eventId"]] = record["groundTruth"]
    return labels


def join(window: Window, labels: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The labels and predictions of the window's rows that have ground truth."""
    notes: list[str] = []
    if window.predictions is None or window.event_ids is None or not labels:
        return np.empty(0), np.empty((0, 1)), notes
    truth: list[float] = []
    chosen: list[int] = []
    events = window.event_ids.to_numpy(zero_copy_only=False)
    start = 0
    mismatched = 0
    while start < events.size:
        event = events[start]
        stop = start + 1
        while stop < events.size and events[stop] == event:
            stop += 1
        label = labels.get(event)
        if label is not None:
            values = label if isinstance(label, list) else [label]
            if len(values) == stop - start:
                truth.extend(values)
                chosen.extend(range(start, stop))
            else:
                mismatched += 1
        start = stop
    if mismatched:
        notes.append(
            f"{mismatched} event(s) have ground truth with a different number of labels "
            "than rows; left out"
        )
    index = np.asarray(chosen, dtype=np.int64)
    return np.asarray(truth, dtype=np.float64), window.predictions[index], notes


def score(problem: ProblemType, truth: np.ndarray, predicted: np.ndarray) -> ModelQuality:
    """scikit-learn's metrics of the joined rows."""
    if problem == "regression":
        guess = predicted[:, 0]
        return ModelQuality(
            problem_type=problem,
            rows=int(truth.size),
            metrics={
                "mae": float(sk.mean_absolute_error(truth, guess)),
                "rmse": float(np.sqrt(sk.mean_squared_error(truth, guess))),
                "r2": float(sk.r2_score(truth, guess)) if truth.size > 1 else math.nan,
            },
        )
    if predicted.shape[1] > 1:
        scores = predicted
        guess = np.argmax(predicted, axis=1).astype(np.float64)
    else:
        scores = predicted[:, 0]
        probabilities = bool(np.all((scores >= 0) & (scores <= 1)))
        guess = (
            (scores >= 0.5).astype(np.float64) if probabilities and problem == "binary" else scores
        )
    labels = sorted(set(truth.tolist()) | set(guess.tolist()))
    average = "binary" if problem == "binary" and set(labels) <= {0.0, 1.0} else "weighted"
    result: dict[str, float] = {
        "accuracy": float(sk.accuracy_score(truth, guess)),
        "precision": float(sk.precision_score(truth, guess, average=average, zero_division=0)),
        "recall": float(sk.recall_score(truth, guess, average=average, zero_division=0)),
        "f1": float(sk.f1_score(truth, guess, average=average, zero_division=0)),
    }
    if len(set(truth.tolist())) > 1:
        try:
            if problem == "binary" and predicted.shape[1] == 1:
                result["auc"] = float(sk.roc_auc_score(truth, scores))
            elif predicted.shape[1] > 1:
                result["auc"] = float(
                    sk.roc_auc_score(
                        truth, scores, multi_class="ovr", labels=range(scores.shape[1])
                    )
                )
        except ValueError:
            pass
    matrix = sk.confusion_matrix(truth, guess, labels=labels)
    return ModelQuality(
        problem_type=problem,
        rows=int(truth.size),
        metrics=result,
        confusion_matrix=matrix.tolist(),
        labels=labels,
    )


def check_quality(quality: ModelQuality, bounds: dict[str, MetricBound]) -> list[Violation]:
    """Violations of the model-quality constraints."""
    found = []
    for name, bound in bounds.items():
        value = quality.metrics.get(name)
        if value is None or math.isnan(value):
            continue
        if bound.min is not None and value < bound.min:
            found.append(
                Violation(
                    check=V.MODEL_QUALITY,
                    feature=name,
                    description=f"{name} is {value:.4g}, below the constraint {bound.min:g}",
                )
            )
        if bound.max is not None and value > bound.max:
            found.append(
                Violation(
                    check=V.MODEL_QUALITY,
                    feature=name,
                    description=f"{name} is {value:.4g}, above the constraint {bound.max:g}",
                )
            )
    return found


def suggest_bounds(quality: ModelQuality) -> dict[str, MetricBound]:
    """Constraints a baseline's model quality suggests: a quarter worse than on the
    baseline for errors, 0.1 lower for scores."""
    bounds = {}
    for name, value in quality.metrics.items():
        if math.isnan(value):
            continue
        if name in ("mae", "rmse"):
            bounds[name] = MetricBound(max=value * 1.25)
        else:
            bounds[name] = MetricBound(min=value - 0.1)
    return bounds
