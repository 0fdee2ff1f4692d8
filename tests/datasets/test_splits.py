"""Splits: reproducible for a seed, different across seeds, stratified for class labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import opensage


def _classification(n: int = 3_000) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "y": rng.choice(["common", "rare", "middle"], n, p=[0.8, 0.05, 0.15]),
        }
    )


FRACTIONS = {"train": 0.7, "validation": 0.2, "test": 0.1}


def _ids(dataset: opensage.Dataset, split: str) -> set[int]:
    return set(dataset.to_pandas(split=split)["id"].tolist())


def test_splits_partition_the_rows_in_the_given_fractions(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = _classification()
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    dataset = client.datasets.create(path, name="c", label="y", splits=FRACTIONS, seed=1)

    parts = {name: _ids(dataset, name) for name in FRACTIONS}
    assert set().union(*parts.values()) == set(frame["id"])
    assert sum(len(p) for p in parts.values()) == len(frame)
    assert dataset.splits is not None
    assert dataset.splits.counts == {name: len(ids) for name, ids in parts.items()}
    for name, fraction in FRACTIONS.items():
        assert len(parts[name]) == pytest.approx(fraction * len(frame), abs=3)


def test_same_seed_same_split_and_other_seed_other_split(
    client: opensage.Client, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    _classification().to_csv(path, index=False)
    a = client.datasets.create(path, name="a", label="y", splits=FRACTIONS, seed=7)
    b = client.datasets.create(path, name="b", label="y", splits=FRACTIONS, seed=7)
    c = client.datasets.create(path, name="c", label="y", splits=FRACTIONS, seed=8)
    assert _ids(a, "test") == _ids(b, "test")
    assert _ids(a, "test") != _ids(c, "test")


def test_class_labels_are_stratified(client: opensage.Client, tmp_path: Path) -> None:
    frame = _classification()
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    dataset = client.datasets.create(path, name="strat", label="y", splits=FRACTIONS)

    assert dataset.splits is not None and dataset.splits.stratified
    overall = frame["y"].value_counts(normalize=True)
    for name in FRACTIONS:
        share = dataset.to_pandas(split=name)["y"].value_counts(normalize=True)
        for cls, expected in overall.items():
            # Per-class largest-remainder rounding: off by at most one row per class.
            assert share[cls] == pytest.approx(expected, abs=1.5 / dataset.splits.counts[name])


def test_regression_label_is_not_stratified_unless_asked(
    client: opensage.Client, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "score": rng.normal(600, 100, 500)})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    dataset = client.datasets.create(
        path, name="reg", label="score", splits={"train": 0.5, "test": 0.5}
    )
    assert dataset.splits is not None and not dataset.splits.stratified
    assert dataset.splits.counts == {"train": 250, "test": 250}


def test_integer_class_labels_are_detected(client: opensage.Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "cls": rng.integers(0, 3, 400)})
    path = tmp_path / "i.csv"
    frame.to_csv(path, index=False)
    dataset = client.datasets.create(
        path, name="ints", label="cls", splits={"train": 0.5, "test": 0.5}
    )
    assert dataset.splits is not None and dataset.splits.stratified


def test_split_download_streams_only_that_split(
    http: object, client: opensage.Client, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    _classification().to_csv(path, index=False)
    dataset = client.datasets.create(path, name="dl", label="y", splits=FRACTIONS)
    assert dataset.splits is not None
    assert len(dataset.to_pandas(split="validation")) == dataset.splits.counts["validation"]
