"""Reading channels: both layouts, and clear errors naming the channel or column at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opensage.algorithms.base import TrainingContext
from opensage.algorithms.data import (
    class_labels,
    read_channel,
    read_training_data,
    require_finite,
)
from opensage.errors import InvalidInput


def context(
    tmp_path: Path, config: dict[str, dict[str, Any]], channels: tuple[str, ...] = ("train",)
) -> TrainingContext:
    return TrainingContext(
        hyperparameters={},
        channels={name: tmp_path / name for name in channels},
        model_dir=tmp_path / "model",
        output_data_dir=tmp_path / "output",
        checkpoint_dir=tmp_path / "checkpoints",
        input_data_config=config,
    )


def parquet(directory: Path, columns: dict[str, list[Any]], name: str = "part.parquet") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), directory / name)


PLATFORM = {"ContentType": "application/x-parquet", "OpenSageLabel": "y"}


def test_platform_dataset_reads_every_file_and_separates_the_label(tmp_path: Path) -> None:
    parquet(tmp_path / "train", {"a": [1, 2], "flag": [True, False], "y": [0.5, 1.5]}, "p0.parquet")
    parquet(
        tmp_path / "train", {"a": [3, None], "flag": [True, True], "y": [2.5, 3.5]}, "p1.parquet"
    )
    data = read_channel(context(tmp_path, {"train": PLATFORM}), "train", labelled=True)
    assert data.feature_names == ["a", "flag"] and data.label_name == "y"
    assert data.features.shape == (4, 2) and np.isnan(data.features[3, 0])
    assert data.labels is not None and data.labels.tolist() == [0.5, 1.5, 2.5, 3.5]


def test_sagemaker_csv_has_the_label_first_unless_label_size_is_zero(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train").write_text("1,0.5,7\n0,0.25,8\n")  # no extension, as in S3
    labelled = read_channel(context(tmp_path, {}), "train", labelled=True)
    assert labelled.labels is not None and labelled.labels.tolist() == [1.0, 0.0]
    assert labelled.features.tolist() == [[0.5, 7.0], [0.25, 8.0]]
    unlabelled = read_channel(
        context(tmp_path, {"train": {"ContentType": "text/csv;label_size=0"}}),
        "train",
        labelled=False,
    )
    assert unlabelled.labels is None and unlabelled.features.shape == (2, 3)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda d: d.mkdir(), "no data files"),
        (lambda d: parquet(d, {"a": ["x", "y"], "y": [1, 0]}), "'a'"),
        (lambda d: parquet(d, {"a": [1, 2], "z": [1, 0]}), "'y'"),
        (lambda d: parquet(d, {"a": [1, 2], "y": [1, None]}), "missing"),
    ],
    ids=["empty", "text-feature", "no-label-column", "missing-label"],
)
def test_bad_platform_channels_are_named(tmp_path: Path, setup: Any, needle: str) -> None:
    setup(tmp_path / "train")
    config = {"train": {} if needle == "no data files" else PLATFORM}
    with pytest.raises(InvalidInput) as caught:
        read_channel(context(tmp_path, config), "train", labelled=True)
    assert caught.value.field == "channels.train"
    assert needle in caught.value.message


def test_bad_csv_and_content_types_are_named(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "data.csv").write_text("1,0.5,red\n0,0.25,blue\n")
    with pytest.raises(InvalidInput, match="column 2"):
        read_channel(context(tmp_path, {}), "train", labelled=True)
    protobuf = {"train": {"ContentType": "application/x-recordio-protobuf"}}
    with pytest.raises(InvalidInput, match="not supported") as caught:
        read_channel(context(tmp_path, protobuf), "train", labelled=True)
    assert caught.value.field == "channels.train"


def test_validation_must_have_the_train_features(tmp_path: Path) -> None:
    parquet(tmp_path / "train", {"a": [1.0, 2.0], "b": [0.0, 1.0], "y": [1, 0]})
    parquet(tmp_path / "validation", {"a": [1.0], "c": [0.0], "y": [1]})
    config = {"train": PLATFORM, "validation": PLATFORM}
    with pytest.raises(InvalidInput) as caught:
        read_training_data(context(tmp_path, config, ("train", "validation")), labelled=True)
    assert caught.value.field == "channels.validation"


def test_class_labels_map_text_and_check_numbers(tmp_path: Path) -> None:
    parquet(tmp_path / "train", {"a": [1.0, 2.0, 3.0], "y": ["dog", "cat", "dog"]})
    parquet(tmp_path / "validation", {"a": [1.0], "y": ["cow"]})
    config = {"train": PLATFORM, "validation": PLATFORM}
    data = read_training_data(context(tmp_path, config, ("train", "validation")), labelled=True)
    with pytest.raises(InvalidInput, match="cow") as caught:
        class_labels(data, None, field="num_class")
    assert caught.value.field == "channels.validation"
    data.validation = None
    labels = class_labels(data, 2, field="num_class")
    assert labels.classes == ["cat", "dog"] and labels.train.tolist() == [1, 0, 1]

    parquet(tmp_path / "numbers", {"a": [1.0, 2.0], "y": [0, 5]})
    config = {"numbers": PLATFORM}
    numbers = read_channel(context(tmp_path, config, ("numbers",)), "numbers", labelled=True)
    data.train = numbers
    with pytest.raises(InvalidInput) as caught:
        class_labels(data, 3, field="num_class")
    assert caught.value.field == "hyperparameters.num_class"


def test_missing_values_are_refused_where_the_algorithm_cannot_use_them(tmp_path: Path) -> None:
    parquet(tmp_path / "train", {"a": [1.0, 2.0], "gap": [1.0, None], "y": [1, 0]})
    data = read_training_data(context(tmp_path, {"train": PLATFORM}), labelled=True)
    with pytest.raises(InvalidInput, match="'gap'"):
        require_finite(data, "kmeans")
