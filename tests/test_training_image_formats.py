"""Training sets may hold WebP images (compact copies of a set), read like JPEG and PNG."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("torch", reason="the trainer needs torch")

from trainer.config import DatasetConfig  # noqa: E402
from trainer.data.build import build_source  # noqa: E402


def test_webp_images_are_found_and_decoded_in_yolo_sets_and_image_folders(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    picture = np.zeros((60, 80, 3), np.uint8)
    picture[10:40, 20:60] = (0, 0, 255)
    for name, suffix in (("a", ".webp"), ("b", ".jpg")):
        cv2.imwrite(str(images / f"{name}{suffix}"), picture)
        (labels / f"{name}.txt").write_text("0 0.5 0.4166 0.5 0.5\n")
    yolo = build_source(DatasetConfig(type="yolo", images=str(images), labels=str(labels)), ("thing",))
    assert len(yolo) == 2
    sample = yolo[0]  # a.webp, sorted first
    assert sample.image.shape == (60, 80, 3)
    assert sample.labels.tolist() == [0] and np.allclose(sample.boxes, [[20, 10, 60, 40]], atol=1)
    assert sample.image[25, 40].tolist() == pytest.approx([0, 0, 255], abs=12)  # lossy, but the colour holds
    folder = build_source(DatasetConfig(type="images", images=str(images)), ("thing",))
    assert len(folder) == 2 and not folder[0].labeled
