"""The fast dense predict path gives exactly what ``Booster.inplace_predict`` gives."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
import xgboost as xgb

from opensage.algorithms import xgboost_dense
from opensage.algorithms.xgboost_dense import predict_dense

RNG = np.random.default_rng(3)
FEATURES = RNG.normal(size=(600, 5))


def _booster(objective: str, labels: np.ndarray, **params: object) -> xgb.Booster:
    data = xgb.DMatrix(FEATURES, label=labels)
    return xgb.train({"objective": objective, "max_depth": 4, **params}, data, num_boost_round=20)


BOOSTERS = {
    "regression": lambda: _booster("reg:squarederror", FEATURES @ np.arange(5.0)),
    "binary": lambda: _booster("binary:logistic", (FEATURES[:, 0] > 0).astype(float)),
    "softprob": lambda: _booster(
        "multi:softprob", np.digitize(FEATURES[:, 1], [-0.5, 0.5]), num_class=3
    ),
    "softmax": lambda: _booster(
        "multi:softmax", np.digitize(FEATURES[:, 1], [-0.5, 0.5]), num_class=3
    ),
}


@pytest.mark.parametrize("kind", sorted(BOOSTERS))
@pytest.mark.parametrize("rows", [1, 3, 257])
def test_same_as_inplace_predict(kind: str, rows: int) -> None:
    booster = BOOSTERS[kind]()
    batch = RNG.normal(size=(rows, 5))
    batch[0, 2] = np.nan  # missing, as inplace_predict reads NaN
    expected = booster.inplace_predict(batch)
    got = predict_dense(booster, batch)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=True)


def test_results_are_copies_not_xgboosts_buffer() -> None:
    booster = BOOSTERS["regression"]()
    first = predict_dense(booster, FEATURES[:4])
    kept = first.copy()
    predict_dense(booster, FEATURES[100:104])  # would overwrite a view of XGBoost's buffer
    assert np.array_equal(first, kept)


def test_other_dtypes_and_layouts_are_converted() -> None:
    booster = BOOSTERS["regression"]()
    fortran = np.asfortranarray(FEATURES[:10].astype(np.float32))
    assert np.array_equal(predict_dense(booster, fortran), booster.inplace_predict(fortran))


def test_wrong_feature_count_is_refused() -> None:
    booster = BOOSTERS["regression"]()
    with pytest.raises(ValueError, match="expected: 5, got 3"):
        predict_dense(booster, FEATURES[:2, :3])


def test_no_rows_take_inplace_predict() -> None:
    booster = BOOSTERS["regression"]()
    empty = np.zeros((0, 5))
    assert predict_dense(booster, empty).shape == booster.inplace_predict(empty).shape


def test_threads_predict_at_once_with_their_own_proxies() -> None:
    booster = BOOSTERS["softprob"]()
    expected = booster.inplace_predict(FEATURES)
    failures: list[str] = []

    def run(offset: int) -> None:
        for start in range(offset, 600, 37):
            rows = FEATURES[start : start + 5]
            if not np.array_equal(predict_dense(booster, rows), expected[start : start + 5]):
                failures.append(f"rows {start}..{start + 5}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_boosters_proxies_go_with_it() -> None:
    booster = BOOSTERS["regression"]()
    predict_dense(booster, FEATURES[:1])
    assert booster in xgboost_dense._states
    state = xgboost_dense._states[booster]
    proxies = state._proxies
    assert len(proxies) == 1
    del booster, state
    gc.collect()
    assert proxies == []  # freed by the finalizer
