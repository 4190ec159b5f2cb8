"""Augmentation geometry: a box drawn into the image lands where its transformed coordinates say."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.geometry import random_affine, resize
from trainer.data.mixing import cutmix, mixup, mosaic
from trainer.data.pipeline import AugmentConfig, AugmentedDataset, TrainTransform
from trainer.data.sample import Sample

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def painted(width: int, height: int, boxes: list[list[int]], first_colour: int = 0) -> Sample:
    """A black image with each box filled in its own colour; label = colour index."""
    image = np.zeros((height, width, 3), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        image[y1:y2, x1:x2] = COLOURS[first_colour + i]
    labels = np.arange(first_colour, first_colour + len(boxes))
    return Sample(image, np.array(boxes, np.float32), labels)


def assert_boxes_match_pixels(sample: Sample, tol: float = 2.0) -> None:
    assert len(sample.boxes) > 0
    for box, label in zip(sample.boxes, sample.labels, strict=True):
        mask = np.all(np.abs(sample.image.astype(int) - COLOURS[label]) < 40, axis=2)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        region = mask[max(y1, 0) : y2, max(x1, 0) : x2]
        assert region.mean() > 0.8, f"box {box} of colour {label} is not filled with it ({region.mean():.2f})"
        ys, xs = np.nonzero(mask)
        # the colour, where visible, stays within the box (other boxes may hide part of it)
        assert xs.min() >= x1 - tol and xs.max() + 1 <= x2 + tol and ys.min() >= y1 - tol and ys.max() + 1 <= y2 + tol


@pytest.mark.parametrize("seed", range(6))
def test_random_affine_keeps_boxes_on_their_pixels(seed):
    sample = painted(200, 120, [[20, 20, 80, 70], [120, 40, 190, 110]])
    out = random_affine(sample, np.random.default_rng(seed), 96, 96, scale=(0.6, 1.4), translate=0.1, flip=0.5)
    assert out.image.shape == (96, 96, 3)
    if len(out.boxes):
        assert_boxes_match_pixels(out)


def test_flip_mirrors_boxes_exactly():
    sample = painted(100, 50, [[10, 5, 30, 25]])
    rng = np.random.default_rng(0)
    out = random_affine(sample, rng, 100, 50, scale=(1, 1), translate=0.0, flip=1.0)
    np.testing.assert_allclose(out.boxes, [[70, 5, 90, 25]], atol=1e-4)


@pytest.mark.parametrize("keep_ratio", [False, True])
def test_resize_and_letterbox(keep_ratio):
    out = resize(painted(200, 100, [[50, 25, 150, 75]]), 64, 64, keep_ratio)
    expected = [[16, 24, 48, 40]] if keep_ratio else [[16, 16, 48, 48]]
    np.testing.assert_allclose(out.boxes, expected, atol=1e-4)
    assert_boxes_match_pixels(out)


def test_mosaic_places_all_four_images():
    parts = [painted(80, 60, [[10, 10, 50, 40]], first_colour=i) for i in range(4)]
    out = mosaic(parts, np.random.default_rng(3), 64, 64)
    assert out.image.shape == (128, 128, 3)
    assert sorted(out.labels.tolist()) == [0, 1, 2, 3]
    assert_boxes_match_pixels(out)


def test_mixup_keeps_both_box_sets():
    a, b = painted(64, 64, [[4, 4, 30, 30]], 0), painted(64, 64, [[34, 34, 60, 60]], 1)
    out = mixup(a, b, np.random.default_rng(0))
    assert out.labels.tolist() == [0, 1]
    assert 0 < out.image[10, 10, 0] < 255  # blended, not replaced


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_boxes_follow_the_pasted_pixels(seed):
    a = painted(96, 96, [[5, 5, 40, 40], [50, 50, 90, 90]], 0)
    b = painted(96, 96, [[10, 50, 45, 90], [55, 5, 90, 45]], 2)
    out = cutmix(a, b, np.random.default_rng(seed))
    for box, label in zip(out.boxes, out.labels, strict=True):
        mask = np.all(out.image == COLOURS[label], axis=2)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        if label >= 2:  # pasted boxes are clipped to the patch: fully filled
            assert mask[y1:y2, x1:x2].mean() > 0.95
        else:  # kept boxes of a are at most 60 % covered
            assert mask[y1:y2, x1:x2].mean() >= 0.39


def test_crowd_regions_and_empty_images_survive_the_pipeline():
    class Source:
        class_names = ("a", "b")

        def __init__(self):
            blank = np.zeros((50, 60, 3), np.uint8)
            self.items = [Sample(blank), Sample(blank, [[5, 5, 40, 40]], [1], crowd=[[0, 0, 60, 50]])]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.items[i]

    ds = AugmentedDataset(Source(), TrainTransform(AugmentConfig(), 32, 32), seed=1)
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(2):
            s = ds[i]
            assert s.image.shape == (32, 32, 3) and s.boxes.shape[1] == 4 and s.crowd.shape[1] == 4


def test_samples_are_reproducible_per_seed_epoch_and_index():
    class Source:
        class_names = ("a",) * 6

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return painted(80, 60, [[10, 10, 50, 40]], first_colour=i)

    ds = AugmentedDataset(Source(), TrainTransform(AugmentConfig(mosaic=1.0), 48, 48), seed=7)
    ds.set_epoch(2)
    a = ds[1]
    ds.set_epoch(0)
    _ = ds[1]
    ds.set_epoch(2)
    b = ds[1]
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
