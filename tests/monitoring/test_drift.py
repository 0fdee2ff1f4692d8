"""Drift statistics agree with scipy / numpy computed directly on the same samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from opensage.monitoring.drift import (
    PSI_FLOOR,
    SMALL_WINDOW,
    categorical_drift,
    histogram,
    kolmogorov_smirnov,
    numeric_drift,
    population_stability_index,
)

THRESHOLDS = {"ks_threshold": 0.1, "psi_threshold": 0.2, "p_value": 0.01}


def _sorted(values: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.float64))


def _large_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [
        # Same distribution: small statistic, large p-value.
        ("normal same", rng.normal(0, 1, 10_000), rng.normal(0, 1, 25_000)),
        # A small shift: the p-value falls in the interesting range.
        ("normal shifted", rng.normal(0, 1, 10_000), rng.normal(0.04, 1, 12_000)),
        # A large shift: p-value ~ 0.
        ("normal far", rng.normal(0, 1, 10_000), rng.normal(1.0, 1, 30_000)),
        # Integer data: many ties in both samples.
        ("poisson ties", rng.poisson(3, 10_000), rng.poisson(3.2, 20_000)),
        ("integers same", rng.integers(0, 5, 8_000), rng.integers(0, 5, 15_000)),
        # Window values the reference never saw, below and above its range.
        ("window wider", rng.uniform(0, 1, 5_000), rng.uniform(-0.5, 1.5, 11_000)),
        # Window narrower than the reference, sitting between its values.
        ("window inside", rng.integers(0, 10, 3_000), rng.uniform(3.1, 3.9, 10_001)),
        # Reference larger than the window.
        ("reference larger", rng.normal(0, 1, 40_000), rng.normal(0.02, 1.1, 10_500)),
    ]


@pytest.mark.parametrize(
    ("label", "reference", "current"), _large_cases(), ids=[c[0] for c in _large_cases()]
)
def test_ks_large_window_equals_scipy_asymptotic(
    label: str, reference: np.ndarray, current: np.ndarray
) -> None:
    reference, current = _sorted(reference), _sorted(current)
    assert current.size > SMALL_WINDOW
    expected = stats.ks_2samp(reference, current, method="asymp")
    statistic, p_value = kolmogorov_smirnov(reference, current)
    assert statistic == pytest.approx(float(expected.statistic), rel=1e-12, abs=1e-15), label
    assert p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300), label


def test_ks_large_window_p_values_span_the_range() -> None:
    """The large-window cases above are not all trivially p=0 or p=1."""
    p_values = [kolmogorov_smirnov(_sorted(r), _sorted(c))[1] for _, r, c in _large_cases()]
    assert any(1e-6 < p < 0.5 for p in p_values)
    assert any(p > 0.5 for p in p_values)
    assert any(p < 1e-12 for p in p_values)


@pytest.mark.parametrize("size", [1, 50, 999, 5_000, SMALL_WINDOW])
def test_ks_small_window_equals_plain_ks_2samp(size: int) -> None:
    rng = np.random.default_rng(size)
    reference = _sorted(rng.normal(0, 1, 2_000))
    current = _sorted(rng.normal(0.1, 1.2, size))
    expected = stats.ks_2samp(reference, current)
    statistic, p_value = kolmogorov_smirnov(reference, current)
    assert statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)


def test_ks_small_window_with_ties_equals_plain_ks_2samp() -> None:
    rng = np.random.default_rng(3)
    reference = _sorted(rng.integers(0, 4, 3_000))
    current = _sorted(rng.integers(0, 5, 800))
    expected = stats.ks_2samp(reference, current)
    assert kolmogorov_smirnov(reference, current) == pytest.approx(
        (float(expected.statistic), float(expected.pvalue)), rel=1e-9
    )


def _direct_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI computed from scratch: np.histogram over the reference's inner decile edges
    (open-ended outer bins), empty bins floored at 1e-4."""
    edges = np.unique(np.quantile(reference, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate(([-np.inf], edges, [np.inf]))
    expected = np.histogram(reference, bins)[0] / reference.size
    actual = np.histogram(current, bins)[0] / current.size
    expected = np.maximum(expected, 1e-4)
    actual = np.maximum(actual, 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _psi_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    return [
        ("same", rng.normal(0, 1, 10_000), rng.normal(0, 1, 2_000)),
        ("shifted", rng.normal(0, 1, 10_000), rng.normal(0.5, 1, 2_000)),
        ("scaled", rng.exponential(2, 10_000), rng.exponential(3, 5_000)),
        # Integer data: duplicate deciles, values exactly on the edges.
        ("integers", rng.integers(0, 5, 10_000), rng.integers(0, 6, 3_000)),
        ("poisson", rng.poisson(2, 10_000), rng.poisson(2.5, 3_000)),
        # Empty bins on the window's side: the floor keeps the PSI finite.
        ("disjoint", rng.uniform(0, 1, 10_000), rng.uniform(5, 6, 1_000)),
        ("one bin", rng.normal(0, 1, 10_000), np.zeros(500)),
    ]


@pytest.mark.parametrize(
    ("label", "reference", "current"), _psi_cases(), ids=[c[0] for c in _psi_cases()]
)
def test_psi_equals_direct_numpy_computation(
    label: str, reference: np.ndarray, current: np.ndarray
) -> None:
    reference, current = _sorted(reference), _sorted(current)
    psi = population_stability_index(reference, current)
    assert np.isfinite(psi)
    assert psi == pytest.approx(_direct_psi(reference, current), rel=1e-12, abs=1e-15), label


def test_psi_is_zero_for_identical_samples_and_large_for_disjoint_ones() -> None:
    rng = np.random.default_rng(5)
    reference = _sorted(rng.normal(0, 1, 10_000))
    assert population_stability_index(reference, reference) == pytest.approx(0.0, abs=1e-12)
    far = _sorted(rng.normal(10, 1, 1_000))
    # Every window value in the top bin: (1 - 0.1) ln(1/0.1) + 9 (1e-4 - 0.1) ln(1e-4/0.1).
    top = (1 - 0.1) * np.log(1 / 0.1) + 9 * (PSI_FLOOR - 0.1) * np.log(PSI_FLOOR / 0.1)
    assert population_stability_index(reference, far) == pytest.approx(top, rel=1e-3)


def test_numeric_drift_flags_a_shift_and_not_the_same_distribution() -> None:
    rng = np.random.default_rng(9)
    reference = _sorted(rng.normal(0, 1, 10_000))
    same = numeric_drift(reference, _sorted(rng.normal(0, 1, 2_000)), **THRESHOLDS)
    shifted = numeric_drift(reference, _sorted(rng.normal(1, 1, 2_000)), **THRESHOLDS)
    assert same["drift"] is False
    assert [t["drift"] for t in same["tests"]] == [False, False]
    assert shifted["drift"] is True
    assert [t["test"] for t in shifted["tests"]] == [
        "kolmogorov_smirnov",
        "population_stability_index",
    ]
    assert [t["drift"] for t in shifted["tests"]] == [True, True]


def test_numeric_drift_needs_both_ks_effect_and_significance() -> None:
    """A KS statistic above the threshold on a tiny window is not significant."""
    rng = np.random.default_rng(2)
    reference = _sorted(rng.normal(0, 1, 10_000))
    tiny = _sorted(rng.normal(0.3, 1, 8))
    result = numeric_drift(reference, tiny, ks_threshold=0.1, psi_threshold=100.0, p_value=0.01)
    ks = result["tests"][0]
    assert ks["statistic"] > 0.1
    assert ks["p_value"] > 0.01
    assert ks["drift"] is False
    assert result["drift"] is False


REFERENCE = {"0": 5_000, "1": 3_000, "2": 1_500, "3": 500}


def test_categorical_drift_does_not_flag_identical_distribution() -> None:
    result = categorical_drift(REFERENCE, dict(REFERENCE), js_threshold=0.1, p_value=0.01)
    chi, js = result["tests"]
    assert result["drift"] is False
    assert chi["statistic"] == pytest.approx(0.0, abs=1e-9)
    assert chi["p_value"] == pytest.approx(1.0)
    assert js["statistic"] == pytest.approx(0.0, abs=1e-7)
    # Same proportions, a tenth of the rows.
    scaled = {k: v // 10 for k, v in REFERENCE.items()}
    assert categorical_drift(REFERENCE, scaled, js_threshold=0.1, p_value=0.01)["drift"] is False


def test_categorical_drift_flags_changed_distribution() -> None:
    current = {"0": 500, "1": 1_500, "2": 3_000, "3": 5_000}
    result = categorical_drift(REFERENCE, current, js_threshold=0.1, p_value=0.01)
    chi, js = result["tests"]
    assert result["drift"] is True
    assert chi["drift"] is True
    assert js["drift"] is True
    assert chi["p_value"] < 1e-12


def test_categorical_drift_flags_a_category_the_baseline_never_saw() -> None:
    current = {"0": 500, "1": 300, "2": 150, "3": 50, "9": 1_000}
    result = categorical_drift(REFERENCE, current, js_threshold=0.1, p_value=0.01)
    assert result["drift"] is True
    assert np.isfinite(result["tests"][0]["statistic"])


def test_categorical_drift_ignores_a_significant_but_tiny_change() -> None:
    """On many rows a small change is significant; the JS distance keeps it quiet."""
    current = {"0": 500_000, "1": 300_000, "2": 150_000, "3": 52_000}
    result = categorical_drift(REFERENCE, current, js_threshold=0.1, p_value=0.01)
    chi, js = result["tests"]
    assert chi["p_value"] < 0.01
    assert js["statistic"] < 0.1
    assert result["drift"] is False


@pytest.mark.parametrize(
    "current",
    [
        {"0": 480, "1": 320, "2": 140, "3": 60},
        {"0": 4_000, "1": 3_500, "2": 2_000, "3": 500},
        {"0": 10, "1": 0, "2": 5, "3": 1},
    ],
)
def test_chi_square_and_js_equal_scipy_on_the_same_counts(current: dict[str, int]) -> None:
    result = categorical_drift(REFERENCE, current, js_threshold=0.1, p_value=0.01)
    chi, js = result["tests"]
    keys = sorted(REFERENCE)
    observed = np.array([current[k] for k in keys], dtype=np.float64)
    shares = np.array([REFERENCE[k] for k in keys], dtype=np.float64) / sum(REFERENCE.values())
    expected = stats.chisquare(observed, shares * observed.sum())
    assert chi["statistic"] == pytest.approx(float(expected.statistic), rel=1e-9)
    assert chi["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)
    distance = jensenshannon(shares, observed / observed.sum(), base=2)
    assert js["statistic"] == pytest.approx(float(distance), rel=1e-9)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_categorical_drift_of_an_empty_window_has_no_chi_square() -> None:
    result = categorical_drift(REFERENCE, {}, js_threshold=0.1, p_value=0.01)
    assert result["drift"] is False
    assert result["tests"][0]["statistic"] is None
    assert result["tests"][0]["p_value"] is None


def test_histogram_matches_numpy_and_keeps_outliers_in_the_outer_bins() -> None:
    rng = np.random.default_rng(4)
    edges = [float(e) for e in np.linspace(-3, 3, 13)]
    inside = _sorted(rng.uniform(-2.99, 2.99, 5_000))
    inside = inside[~np.isin(inside, edges)]
    assert histogram(inside, edges) == np.histogram(inside, edges)[0].tolist()
    with_outliers = _sorted(np.concatenate((inside, [-50.0, -4.0, 4.0, 7.0, 1e9])))
    counts = histogram(with_outliers, edges)
    assert len(counts) == len(edges) - 1
    assert sum(counts) == with_outliers.size
    expected = np.histogram(inside, edges)[0]
    assert counts[0] == expected[0] + 2
    assert counts[-1] == expected[-1] + 3
    assert counts[1:-1] == expected[1:-1].tolist()
