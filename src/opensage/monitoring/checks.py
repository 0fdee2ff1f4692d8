"""The checks of one window of traffic against a baseline: data types, completeness,
missing and extra columns, categorical domains, non-negativity, and distribution drift
of every feature and of the predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from opensage.monitoring.baseline import PREDICTION
from opensage.monitoring.captured import Column, Window
from opensage.monitoring.drift import categorical_drift, histogram, numeric_drift
from opensage.monitoring.schemas import (
    Constraints,
    DriftTest,
    DriftThresholds,
    FeatureConstraint,
    FeatureReport,
    Report,
    Violation,
    ViolationType,
)

V = ViolationType


def check_window(
    window: Window,
    statistics: dict[str, Any],
    constraints: Constraints,
    references: dict[str, np.ndarray],
) -> Report:
    """The report of ``window``: a line per feature and every violation found."""
    violations: list[Violation] = []
    features: list[FeatureReport] = []
    if window.rows == 0:
        return Report(
            records=window.records,
            rows=0,
            features=[],
            violations=[],
            notes=[*window.notes, "no captured traffic in the window"],
        )
    for name in window.missing_columns:
        violations.append(
            Violation(
                check=V.MISSING_COLUMN,
                feature=name,
                description=f"requests lack feature {name!r} the baseline has",
            )
        )
    if constraints.check_extra_columns and window.extra_columns:
        violations.append(
            Violation(
                check=V.EXTRA_COLUMN,
                description=f"requests carry columns the baseline lacks: {window.extra_columns}",
            )
        )
    for constraint in constraints.features:
        column = window.columns.get(constraint.name)
        if column is None:
            continue
        report, found = _check_feature(
            constraint,
            column,
            statistics["features"].get(constraint.name, {}),
            references.get(constraint.name),
            constraints.drift,
            V.BASELINE_DRIFT,
        )
        features.append(report)
        violations.extend(found)
    prediction = None
    if window.predictions is not None and constraints.prediction is not None:
        values = _prediction_values(window.predictions, constraints.prediction)
        prediction, found = _check_feature(
            constraints.prediction,
            Column(parts=[values], missing=int(np.isnan(values).sum())),
            statistics.get(PREDICTION, {}),
            references.get(PREDICTION),
            constraints.drift,
            V.PREDICTION_DRIFT,
            structural=False,
        )
        violations.extend(found)
    return Report(
        records=window.records,
        rows=window.rows,
        features=features,
        prediction=prediction,
        violations=violations,
        notes=list(window.notes),
    )


def _prediction_values(predictions: np.ndarray, constraint: FeatureConstraint) -> np.ndarray:
    """The value compared for the predictions: the class of a classifier giving one
    score per class, else the first output."""
    if constraint.categorical and predictions.shape[1] > 1:
        values: np.ndarray = np.argmax(predictions, axis=1).astype(np.float64)
    else:
        values = predictions[:, 0].astype(np.float64)
    return values


def _check_feature(
    constraint: FeatureConstraint,
    column: Column,
    stats: dict[str, Any],
    reference: np.ndarray | None,
    defaults: DriftThresholds,
    drift_check: ViolationType,
    *,
    structural: bool = True,
) -> tuple[FeatureReport, list[Violation]]:
    name = constraint.name
    rows = column.size
    found: list[Violation] = []
    ordered = column.sorted_finite()
    present = rows - column.missing
    completeness = present / rows if rows else 1.0
    if structural:
        found.extend(_structure(constraint, column, ordered, completeness))
    thresholds = constraint.drift or defaults
    tests: list[DriftTest] = []
    drift = False
    chart = None
    if thresholds.enabled and ordered.size and reference is not None and reference.size:
        if constraint.categorical:
            result = categorical_drift(
                stats.get("categories", {}),
                _counts(ordered),
                js_threshold=thresholds.js_threshold,
                p_value=thresholds.p_value,
            )
        else:
            result = numeric_drift(
                reference,
                ordered,
                ks_threshold=thresholds.ks_threshold,
                psi_threshold=thresholds.psi_threshold,
                p_value=thresholds.p_value,
            )
        tests = [DriftTest.model_validate(t) for t in result["tests"]]
        drift = bool(result["drift"])
        edges = stats.get("histogram_edges")
        if edges:
            chart = {
                "edges": edges,
                "baseline": _shares(histogram(reference, edges)),
                "current": _shares(histogram(ordered, edges)),
            }
    if drift:
        failed = ", ".join(
            f"{t.test} {t.statistic:.3g} > {t.threshold:g}"
            if t.test != "chi_square"
            else f"chi_square p={t.p_value:.2g}"
            for t in tests
            if t.drift and t.statistic is not None
        )
        found.append(
            Violation(
                check=drift_check,
                feature=name,
                description=f"{name!r} drifted from the baseline ({failed})",
            )
        )
    report = FeatureReport(
        name=name,
        count=int(present),
        missing=int(column.missing),
        completeness=completeness,
        mean=float(ordered.mean()) if ordered.size else None,
        baseline_mean=stats.get("mean"),
        tests=tests,
        drift=drift,
        histogram=chart,
    )
    return report, found


def _structure(
    constraint: FeatureConstraint, column: Column, ordered: np.ndarray, completeness: float
) -> list[Violation]:
    """Type, completeness, domain and sign of one feature's values."""
    name = constraint.name
    found = []
    if column.non_numeric:
        found.append(
            Violation(
                check=V.DATA_TYPE,
                feature=name,
                description=f"{column.non_numeric} value(s) of {name!r} are not numbers "
                f"(e.g. {column.examples[:3]}); the baseline has {constraint.inferred_type}",
            )
        )
    elif constraint.inferred_type in ("integral", "boolean") and ordered.size:
        fractional = int(np.count_nonzero(ordered != np.floor(ordered)))
        if fractional:
            found.append(
                Violation(
                    check=V.DATA_TYPE,
                    feature=name,
                    description=f"{fractional} value(s) of {name!r} have a fractional part; "
                    f"the baseline has {constraint.inferred_type} values",
                )
            )
    if completeness < constraint.completeness:
        found.append(
            Violation(
                check=V.COMPLETENESS,
                feature=name,
                description=f"{name!r} is {completeness:.1%} complete; the constraint is "
                f"{constraint.completeness:.1%}",
            )
        )
    if constraint.is_non_negative and ordered.size and ordered[0] < 0:
        negative = int(np.searchsorted(ordered, 0.0, side="left"))
        found.append(
            Violation(
                check=V.NON_NEGATIVE,
                feature=name,
                description=f"{negative} value(s) of {name!r} are negative (least "
                f"{float(ordered[0]):g})",
            )
        )
    if constraint.domain is not None and ordered.size:
        allowed = np.asarray(sorted(constraint.domain), dtype=np.float64)
        positions = np.minimum(np.searchsorted(allowed, ordered), allowed.size - 1)
        outside = ordered[allowed[positions] != ordered] if allowed.size else ordered
        if outside.size:
            examples = sorted({float(v) for v in outside[:1000]})[:5]
            found.append(
                Violation(
                    check=V.CATEGORICAL_VALUES,
                    feature=name,
                    description=f"{outside.size} value(s) of {name!r} are outside the "
                    f"baseline's domain (e.g. {examples})",
                )
            )
    return found


def _counts(ordered: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(ordered, return_counts=True)
    return {
        (str(int(v)) if float(v).is_integer() else repr(float(v))): int(c)
        for v, c in zip(values, counts, strict=True)
    }


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]
