"""Distribution drift of one feature between a baseline and a window of traffic.

Numeric features: the two-sample Kolmogorov-Smirnov test (scipy) against the baseline's
reference sample, and the population stability index over the baseline's decile bins.
Categorical features (and class predictions): Pearson's chi-square test of the window's
counts against the baseline's proportions, and the Jensen-Shannon distance (scipy).

A test flags drift only when its effect passes a threshold (and, for the tests that have
one, its p-value is below ``p_value``): on a million rows any difference is
"significant", so significance alone would raise alarms on identical distributions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_BINS = 10
PSI_FLOOR = 1e-4
"""Proportion used for an empty bin, so that the PSI stays finite."""


def psi_edges(reference: np.ndarray) -> np.ndarray:
    """Inner bin edges for the PSI: the reference's deciles, duplicates removed."""
    quantiles = np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1])
    return np.unique(quantiles)


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, edges: np.ndarray | None = None
) -> float:
    """PSI = sum((p_cur - p_ref) * ln(p_cur / p_ref)) of two sorted samples, over bins
    cut at ``edges`` (by default the reference's deciles)."""
    edges = psi_edges(reference) if edges is None else edges
    expected = _proportions(reference, edges)
    actual = _proportions(current, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _proportions(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of the sorted ``ordered`` in the bins cut at ``edges`` (left-closed)."""
    starts = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate(([0], starts, [ordered.size])))
    return np.maximum(counts / max(ordered.size, 1), PSI_FLOOR)


SMALL_WINDOW = 10_000
"""Up to this many values, scipy's ``ks_2samp`` runs as is (with its exact p-value)."""


def kolmogorov_smirnov(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """The two-sample KS statistic and p-value of sorted ``reference`` and ``current``,
    as ``scipy.stats.ks_2samp`` gives them.

    For a large window, ks_2samp would look up every value of both samples in both; the
    same supremum is found at the reference's distinct values alone (between two of them
    the reference's ECDF is flat, so the gap peaks at an end), which costs a few thousand
    lookups in the sorted window. The p-value is then scipy's own asymptotic one
    (Smirnov's distribution, ``kstwo``), as ks_2samp computes it for such sizes.
    """
    if current.size <= SMALL_WINDOW:
        result = stats.ks_2samp(reference, current)
        return float(result.statistic), float(result.pvalue)
    m, n = reference.size, current.size
    points = np.unique(reference)
    g_at = np.searchsorted(reference, points, side="right") / m
    f_at = np.searchsorted(current, points, side="right") / n
    f_before = np.searchsorted(current, points, side="left") / n
    g_before = np.concatenate(([0.0], g_at[:-1]))
    d = max(float(np.max(np.abs(g_at - f_at))), float(np.max(f_before - g_before)), 0.0)
    big, small = max(m, n), min(m, n)
    p = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))
    return d, p


def numeric_drift(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    ks_threshold: float,
    psi_threshold: float,
    p_value: float,
) -> dict[str, Any]:
    """KS and PSI of the sorted finite ``current`` against the sorted ``reference``."""
    statistic, probability = kolmogorov_smirnov(reference, current)
    psi = population_stability_index(reference, current)
    ks_drift = bool(statistic > ks_threshold and probability < p_value)
    return {
        "tests": [
            {
                "test": "kolmogorov_smirnov",
                "statistic": statistic,
                "p_value": probability,
                "threshold": ks_threshold,
                "drift": ks_drift,
            },
            {
                "test": "population_stability_index",
                "statistic": psi,
                "p_value": None,
                "threshold": psi_threshold,
                "drift": bool(psi > psi_threshold),
            },
        ],
        "drift": ks_drift or psi > psi_threshold,
    }


def categorical_drift(
    reference_counts: dict[str, int],
    current_counts: dict[str, int],
    *,
    js_threshold: float,
    p_value: float,
) -> dict[str, Any]:
    """Chi-square goodness of fit of the window's counts to the baseline's proportions,
    and the Jensen-Shannon distance (base 2: 0 same, 1 disjoint) between the two."""
    categories = sorted(set(reference_counts) | set(current_counts))
    expected = np.array([reference_counts.get(c, 0) for c in categories], dtype=np.float64)
    observed = np.array([current_counts.get(c, 0) for c in categories], dtype=np.float64)
    # A category the baseline never saw gets a tiny expected share, so that it counts
    # against the fit instead of dividing by zero.
    expected = np.maximum(expected / max(expected.sum(), 1.0), PSI_FLOOR)
    expected /= expected.sum()
    total = observed.sum()
    chi = stats.chisquare(observed, expected * total) if total > 0 else None
    distance = float(jensenshannon(expected, observed / max(total, 1.0), base=2))
    js_drift = distance > js_threshold
    chi_drift = bool(chi is not None and chi.pvalue < p_value and js_drift)
    return {
        "tests": [
            {
                "test": "chi_square",
                "statistic": float(chi.statistic) if chi is not None else None,
                "p_value": float(chi.pvalue) if chi is not None else None,
                "threshold": p_value,
                "drift": chi_drift,
            },
            {
                "test": "jensen_shannon",
                "statistic": distance,
                "p_value": None,
                "threshold": js_threshold,
                "drift": bool(js_drift),
            },
        ],
        "drift": chi_drift,
    }


def histogram(ordered: np.ndarray, edges: list[float]) -> list[int]:
    """Counts of the sorted ``ordered`` in the bins of ``edges``; values outside the range
    land in the outer bins, so none is lost from the chart."""
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    starts = np.searchsorted(ordered, inner, side="right")
    counts: list[int] = np.diff(np.concatenate(([0], starts, [ordered.size]))).tolist()
    return counts
