"""Oversampling: ``repeat: N`` makes an epoch see a small set N times among large ones."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the trainer needs torch")

from detector.errors import KestrelError  # noqa: E402
from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.config import DatasetConfig, TrainConfig, from_dict  # noqa: E402
from trainer.data.build import build_source  # noqa: E402


def test_a_repeated_set_is_seen_n_times_an_epoch_with_the_same_images(tmp_path):
    spec = tiny_config(tmp_path)["data"]["train"][0]
    once = build_source(DatasetConfig(**spec), ("a", "b", "c"))
    thrice = build_source(DatasetConfig(**spec, repeat=3), ("a", "b", "c"))
    assert len(thrice) == 3 * len(once) > 0
    for i in (0, len(once) - 1):
        for k in range(3):
            again = thrice[i + k * len(once)]
            assert np.array_equal(again.image, once[i].image)
            assert np.array_equal(again.boxes, once[i].boxes)


def test_repeat_combines_with_limit_and_partial_labels(tmp_path):
    spec = tiny_config(tmp_path)["data"]["train"][0]
    source = build_source(DatasetConfig(**spec, limit=2, repeat=4, classes=("a",)), ("a", "b", "c"))
    assert len(source) == 8
    assert source[5].covered == frozenset({0})


def test_repeat_below_one_is_refused_with_the_reason(tmp_path):
    spec = tiny_config(tmp_path)["data"]["train"][0]
    with pytest.raises(KestrelError, match="repeat"):
        build_source(DatasetConfig(**spec, repeat=0), ("a", "b", "c"))


def test_repeat_is_read_from_a_recipe(tmp_path):
    data = tiny_config(tmp_path)
    data["data"]["train"][0]["repeat"] = 5
    cfg = from_dict(TrainConfig, data)
    assert cfg.data.train[0].repeat == 5
