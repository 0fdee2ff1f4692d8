"""Model quality with late labels: parsing uploads, joining them to captured rows by
event id, scoring against scikit-learn, and the model_quality_check."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from opensage.errors import InvalidInput
from opensage.monitoring.captured import Window, read_window
from opensage.monitoring.quality import (
    check_quality,
    join,
    parse_ground_truth,
    read_ground_truth,
    score,
    store_ground_truth,
)
from opensage.monitoring.schemas import MetricBound, ModelQuality
from opensage.monitoring.schemas import ViolationType as V
from opensage.storage import ArtifactStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def window(event_ids: list[str], predictions: np.ndarray) -> Window:
    return Window(
        start=T0,
        end=T0 + timedelta(hours=1),
        features=["x"],
        rows=len(event_ids),
        predictions=np.asarray(predictions, dtype=np.float64).reshape(len(event_ids), -1),
        event_ids=pa.array(event_ids, pa.string()),
    )


# -- score matches scikit-learn ---------------------------------------------------------
def test_regression_scores_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(50, 10, 500)
    guess = truth + rng.normal(2, 5, 500)
    quality = score("regression", truth, guess.reshape(-1, 1))
    assert quality.problem_type == "regression"
    assert quality.rows == 500
    assert quality.metrics == pytest.approx(
        {
            "mae": sk.mean_absolute_error(truth, guess),
            "rmse": math.sqrt(sk.mean_squared_error(truth, guess)),
            "r2": sk.r2_score(truth, guess),
        },
        rel=1e-12,
    )
    assert quality.metrics["rmse"] > quality.metrics["mae"] > 2.0
    assert quality.confusion_matrix is None


def test_regression_of_one_row_has_no_r2() -> None:
    quality = score("regression", np.array([3.0]), np.array([[5.0]]))
    assert quality.metrics["mae"] == 2.0 and quality.metrics["rmse"] == 2.0
    assert math.isnan(quality.metrics["r2"])


def test_binary_scores_on_probabilities_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 400).astype(np.float64)
    probability = np.clip(0.35 * truth + rng.uniform(0, 0.65, 400), 0, 1)
    probability[:3] = 0.5  # on the threshold: class 1
    guess = (probability >= 0.5).astype(np.float64)
    quality = score("binary", truth, probability.reshape(-1, 1))
    assert quality.metrics == pytest.approx(
        {
            "accuracy": sk.accuracy_score(truth, guess),
            "precision": sk.precision_score(truth, guess),
            "recall": sk.recall_score(truth, guess),
            "f1": sk.f1_score(truth, guess),
            "auc": sk.roc_auc_score(truth, probability),
        },
        rel=1e-12,
    )
    assert 0.5 < quality.metrics["accuracy"] < 1.0
    assert quality.labels == [0.0, 1.0]
    assert quality.confusion_matrix == sk.confusion_matrix(truth, guess).tolist()


def test_binary_scores_on_class_labels_match_sklearn() -> None:
    truth = np.array([0, 1, 1, 0, 1, 0, 1, 1], dtype=np.float64)
    guess = np.array([0, 1, 0, 0, 1, 1, 1, 1], dtype=np.float64)
    quality = score("binary", truth, guess.reshape(-1, 1))
    assert quality.metrics["accuracy"] == sk.accuracy_score(truth, guess) == 0.75
    assert quality.metrics["precision"] == pytest.approx(sk.precision_score(truth, guess))
    assert quality.metrics["recall"] == pytest.approx(sk.recall_score(truth, guess))
    assert quality.metrics["f1"] == pytest.approx(sk.f1_score(truth, guess))
    assert quality.confusion_matrix == [[2, 1], [1, 4]]


def test_binary_of_one_class_has_no_auc() -> None:
    truth = np.ones(5)
    quality = score("binary", truth, np.array([[0.9], [0.8], [0.2], [0.7], [0.6]]))
    assert "auc" not in quality.metrics
    assert quality.metrics["accuracy"] == pytest.approx(0.8)


def test_multiclass_scores_take_the_argmax_and_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 600).astype(np.float64)
    logits = rng.normal(0, 1, (600, 3))
    logits[np.arange(600), truth.astype(int)] += 1.2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    guess = np.argmax(probabilities, axis=1).astype(np.float64)
    quality = score("multiclass", truth, probabilities)
    assert quality.metrics == pytest.approx(
        {
            "accuracy": sk.accuracy_score(truth, guess),
            "precision": sk.precision_score(truth, guess, average="weighted"),
            "recall": sk.recall_score(truth, guess, average="weighted"),
            "f1": sk.f1_score(truth, guess, average="weighted"),
            "auc": sk.roc_auc_score(truth, probabilities, multi_class="ovr"),
        },
        rel=1e-12,
    )
    assert quality.labels == [0.0, 1.0, 2.0]
    expected = sk.confusion_matrix(truth, guess, labels=[0, 1, 2])
    matrix = quality.confusion_matrix
    assert matrix is not None
    assert matrix == expected.tolist()
    assert sum(sum(row) for row in matrix) == 600
    # Rows are the truth: class 0's row sums to its count.
    assert sum(matrix[0]) == int((truth == 0).sum())


def test_multiclass_class_predictions_use_the_union_of_labels() -> None:
    truth = np.array([0, 1, 2, 2, 1], dtype=np.float64)
    guess = np.array([0, 2, 2, 3, 1], dtype=np.float64)  # 3 never in the truth
    quality = score("multiclass", truth, guess.reshape(-1, 1))
    assert quality.labels == [0.0, 1.0, 2.0, 3.0]
    assert quality.metrics["accuracy"] == pytest.approx(0.6)
    expected = sk.confusion_matrix(truth, guess, labels=[0, 1, 2, 3])
    assert quality.confusion_matrix == expected.tolist()


# -- join -----------------------------------------------------------------------------
def test_join_pairs_labels_to_rows_by_event_id() -> None:
    events = ["e1", "e2", "e2", "e2", "e3", "e4", "e4", "e5"]
    predictions = np.arange(8, dtype=np.float64) / 10
    labels = {
        "e1": 1.0,
        "e2": [0.0, 1.0, 1.0],  # a request of three rows: one label per row
        "e4": [1.0, 0.0, 1.0],  # three labels for two rows: left out
        "e5": [0.0],  # a list of one for a single row
        "other": 1.0,  # an event outside the window
    }
    truth, predicted, notes = join(window(events, predictions), labels)
    np.testing.assert_array_equal(truth, [1.0, 0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(predicted[:, 0], [0.0, 0.1, 0.2, 0.3, 0.7])
    assert predicted.shape == (5, 1)
    assert len(notes) == 1 and notes[0].startswith("1 event(s)")


def test_join_keeps_every_output_column() -> None:
    predictions = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    truth, predicted, _ = join(window(["a", "b", "c"], predictions), {"c": 0, "a": 1})
    np.testing.assert_array_equal(truth, [1.0, 0.0])
    np.testing.assert_array_equal(predicted, predictions[[0, 2]])


def test_join_with_nothing_to_join_is_empty() -> None:
    truth, predicted, notes = join(window(["a"], np.array([1.0])), {})
    assert truth.size == 0 and predicted.shape == (0, 1) and notes == []
    no_predictions = window(["a"], np.array([1.0]))
    no_predictions.predictions = None
    assert join(no_predictions, {"a": 1.0})[0].size == 0


def test_ground_truth_joins_captured_traffic_end_to_end(tmp_path: Path) -> None:
    """Uploaded labels meet the rows read back from capture files, by the caller's
    inference id when it sent one (a multi-row request labelled with a list)."""
    store = ArtifactStore(str(tmp_path / "store"))
    lines = []
    requests = [
        ("ev-1", None, "1.0\n2.0\n3.0", "0.9\n0.1\n0.8"),
        ("ev-2", "order-7", "4.0", "0.3"),
        ("ev-3", None, "5.0", "0.6"),
    ]
    for number, (event, inference, body, output) in enumerate(requests):
        metadata = {"eventId": event, "inferenceTime": (T0 + timedelta(seconds=number)).isoformat()}
        if inference:
            metadata["inferenceId"] = inference
        lines.append(
            orjson.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": body,
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv",
                            "mode": "OUTPUT",
                            "data": output,
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": metadata,
                    "eventVersion": "0",
                    "variant": "AllTraffic",
                }
            )
        )
    store.put_bytes(
        b"\n".join(lines) + b"\n", "endpoints/ep/data-capture/AllTraffic/2024/05/01/08/x.jsonl"
    )
    upload = b"\n".join(
        [
            b'{"eventId": "ev-1", "groundTruth": [1, 0, 0]}',
            b'{"eventId": "order-7", "groundTruth": 0}',
            b'{"eventId": "ev-3", "groundTruth": 1}',
        ]
    )
    store_ground_truth(store, "ep", parse_ground_truth(upload))
    # A later upload for the same event wins.
    store_ground_truth(store, "ep", parse_ground_truth(b'{"eventId": "ev-3", "groundTruth": 0}'))
    captured = read_window(store, "ep", T0, T0 + timedelta(hours=1), ["x"])
    truth, predicted, notes = join(captured, read_ground_truth(store, "ep"))
    np.testing.assert_array_equal(truth, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(predicted[:, 0], [0.9, 0.1, 0.8, 0.3, 0.6])
    assert notes == []
    quality = score("binary", truth, predicted)
    assert quality.metrics["accuracy"] == pytest.approx(0.6)  # 0.9, 0.1, 0.3 right


# -- parse_ground_truth ---------------------------------------------------------------
def test_parse_json_lines() -> None:
    body = (
        b'{"eventId": "a", "groundTruth": 1}\n'
        b"\n"
        b'{"eventId": "b", "groundTruth": 0.25}\r\n'
        b'{"eventId": "c", "groundTruth": [1, 0, "2"]}\n'
        b'{"eventId": "d", "groundTruth": true}\n'
    )
    assert parse_ground_truth(body) == [
        ("a", 1.0),
        ("b", 0.25),
        ("c", [1.0, 0.0, 2.0]),
        ("d", 1.0),
    ]


def test_parse_json_list() -> None:
    body = b' [{"eventId": "a", "groundTruth": 3}, {"eventId": "b", "groundTruth": "4.5"}] '
    assert parse_ground_truth(body) == [("a", 3.0), ("b", 4.5)]


def test_parse_sagemaker_ground_truth_records() -> None:
    records = [
        {
            "groundTruthData": {"data": "1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "a"},
            "eventVersion": "0",
        },
        {
            "groundTruthData": {"data": "0,1,1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "b"},
        },
        {
            "groundTruthData": {"data": "[2, 0]", "encoding": "JSON"},
            "eventMetadata": {"eventId": "c"},
        },
        {"groundTruthData": {"data": "0.75"}, "eventMetadata": {"eventId": "d"}},
    ]
    body = b"\n".join(orjson.dumps(r) for r in records)
    assert parse_ground_truth(body) == [
        ("a", 1.0),
        ("b", [0.0, 1.0, 1.0]),
        ("c", [2.0, 0.0]),
        ("d", 0.75),
    ]


GOOD = b'{"eventId": "ok", "groundTruth": 1}'


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        pytest.param(b'{"groundTruth": 1}', "line 2", id="missing-eventId"),
        pytest.param(b'{"eventId": "", "groundTruth": 1}', "line 2", id="blank-eventId"),
        pytest.param(b'{"eventId": 7, "groundTruth": 1}', "line 2", id="numeric-eventId"),
        pytest.param(b'{"eventId": "x", "groundTruth": "high"}', "line 2", id="text-label"),
        pytest.param(b'{"eventId": "x", "groundTruth": null}', "line 2", id="null-label"),
        pytest.param(b'{"eventId": "x", "groundTruth": [1, "a"]}', "line 2", id="list-label"),
        pytest.param(b'{"eventId": "x", "groundTruth": []}', "line 2", id="empty-list"),
        pytest.param(b'{"eventId": "x", "groundTruth": "nan"}', "line 2", id="nan-label"),
        pytest.param(b'{"eventId": "x"}', "line 2", id="no-label"),
        pytest.param(b"[1, 2]", "line 2", id="not-an-object"),
        pytest.param(
            b'{"groundTruthData": {"data": "yes"}, "eventMetadata": {"eventId": "x"}}',
            "line 2",
            id="sagemaker-text-label",
        ),
        pytest.param(
            b'{"groundTruthData": {"data": 1}, "eventMetadata": {"eventId": "x"}}',
            "line 2",
            id="sagemaker-data-not-text",
        ),
    ],
)
def test_parse_rejects_a_malformed_line_and_names_it(bad: bytes, where: str) -> None:
    body = GOOD + b"\n" + bad + b"\n" + GOOD
    with pytest.raises(InvalidInput) as caught:
        parse_ground_truth(body)
    assert caught.value.message.startswith(f"{where}:")
    assert caught.value.field == where


def test_parse_names_the_record_of_a_json_list() -> None:
    body = b'[{"eventId": "a", "groundTruth": 1}, {"eventId": "b", "groundTruth": "x"}]'
    with pytest.raises(InvalidInput, match=r"^record 1: ") as caught:
        parse_ground_truth(body)
    assert caught.value.field == "record 1"


@pytest.mark.parametrize("body", [b"", b"   \n\n  ", b"\n"])
def test_parse_rejects_an_empty_body(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_ground_truth(body)


def test_parse_rejects_invalid_json() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_ground_truth(GOOD + b"\n" + b'{"eventId": "x", groundTruth: 1}')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_ground_truth(b'[{"eventId": "x", "groundTruth": 1}')


def test_parse_invalid_json_names_the_line() -> None:
    body = GOOD + b"\n" + GOOD + b"\n" + b'{"eventId": "x", groundTruth: 1}'
    with pytest.raises(InvalidInput) as caught:
        parse_ground_truth(body)
    assert "line 3" in caught.value.message


def test_parse_rejects_a_json_body_that_is_not_a_list_of_records() -> None:
    with pytest.raises(InvalidInput):
        parse_ground_truth(b"[1, 2]")


# -- check_quality --------------------------------------------------------------------
QUALITY = ModelQuality(
    problem_type="regression", rows=100, metrics={"mae": 4.0, "rmse": 6.0, "r2": 0.4}
)


def test_check_quality_flags_each_bound_crossed() -> None:
    bounds = {
        "rmse": MetricBound(max=5.0),  # crossed
        "mae": MetricBound(max=4.0),  # at the bound: fine
        "r2": MetricBound(min=0.5, max=0.9),  # crossed below
    }
    found = check_quality(QUALITY, bounds)
    assert {(v.check, v.feature) for v in found} == {
        (V.MODEL_QUALITY, "rmse"),
        (V.MODEL_QUALITY, "r2"),
    }
    by_metric = {v.feature: v.description for v in found}
    assert "above the constraint 5" in by_metric["rmse"]
    assert "below the constraint 0.5" in by_metric["r2"]


def test_check_quality_is_quiet_within_bounds_and_for_unknown_or_nan_metrics() -> None:
    assert check_quality(QUALITY, {"rmse": MetricBound(max=6.5), "r2": MetricBound(min=0.4)}) == []
    assert check_quality(QUALITY, {"auc": MetricBound(min=0.9)}) == []
    nan = QUALITY.model_copy(update={"metrics": {"r2": math.nan}})
    assert check_quality(nan, {"r2": MetricBound(min=0.5)}) == []


def test_scored_window_crossing_a_bound_is_a_violation() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 200).astype(np.float64)
    good = np.where(truth == 1, 0.8, 0.2)
    noisy = np.where(rng.uniform(size=200) < 0.3, 1 - good, good)
    bounds = {"accuracy": MetricBound(min=0.9), "f1": MetricBound(min=0.9)}
    assert check_quality(score("binary", truth, good.reshape(-1, 1)), bounds) == []
    found = check_quality(score("binary", truth, noisy.reshape(-1, 1)), bounds)
    assert {v.feature for v in found} == {"accuracy", "f1"}
    assert all(v.check is V.MODEL_QUALITY for v in found)


def test_ground_truth_is_read_from_the_window_hour_on(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    prefix = "endpoints/ep/ground-truth"
    store.put_bytes(b'{"eventId": "old", "groundTruth": 1.0}\n', f"{prefix}/2026/11/27/08/a.jsonl")
    store.put_bytes(b'{"eventId": "new", "groundTruth": 2.0}\n', f"{prefix}/2026/11/27/10/b.jsonl")
    since = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    assert read_ground_truth(store, "ep", since) == {"new": 2.0}
    assert read_ground_truth(store, "ep") == {"old": 1.0, "new": 2.0}
