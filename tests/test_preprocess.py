"""Pre-processing geometry: a box in the frame lands where the transform says, and maps back."""

from __future__ import annotations

import numpy as np
import pytest

from detector.package import PackageMeta
from detector.preprocess import Preprocessor


def meta(resize: str, color: str = "bgr") -> PackageMeta:
    return PackageMeta(name="t", class_names=("a",), input_width=64, input_height=64, strides=(8,), reg_max=3,
                       resize=resize, color=color, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # fmt: skip


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_a_drawn_square_lands_where_the_transform_maps_it(resize):
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[20:60, 40:120] = 255
    blob, tf = Preprocessor(meta(resize))(frame)
    assert blob.shape == (3, 64, 64) and blob.dtype == np.float32
    x1, y1 = 40 * tf.scale_x + tf.pad_x, 20 * tf.scale_y + tf.pad_y
    x2, y2 = 120 * tf.scale_x + tf.pad_x, 60 * tf.scale_y + tf.pad_y
    ys, xs = np.nonzero(blob[0] > 127)
    assert abs(xs.min() - x1) <= 1 and abs(xs.max() + 1 - x2) <= 1
    assert abs(ys.min() - y1) <= 1 and abs(ys.max() + 1 - y2) <= 1
    back = tf.boxes_to_frame(np.array([[x1, y1, x2, y2]], np.float32))
    np.testing.assert_allclose(back, [[40, 20, 120, 60]], atol=1e-3)


def test_letterbox_keeps_aspect_and_centres():
    _, tf = Preprocessor(meta("letterbox"))(np.zeros((100, 200, 3), np.uint8))
    assert tf.scale_x == tf.scale_y == pytest.approx(0.32)
    assert tf.pad_x == 0 and tf.pad_y == 16


def test_normalisation_and_colour_order():
    m = PackageMeta(name="t", class_names=("a",), input_width=8, input_height=8, strides=(8,), reg_max=3,
                    color="rgb", mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 5.0))  # fmt: skip
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 50, 100  # B=50, R=100
    blob, _ = Preprocessor(m)(frame)
    np.testing.assert_allclose(blob[:, 0, 0], [(100 - 10) / 2, (0 - 20) / 4, (50 - 30) / 5])


def test_boxes_are_clipped_to_the_frame():
    _, tf = Preprocessor(meta("stretch"))(np.zeros((100, 200, 3), np.uint8))
    np.testing.assert_allclose(tf.boxes_to_frame(np.array([[-5, -5, 70, 70]], np.float32)), [[0, 0, 200, 100]])


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="HxWx3"):
        Preprocessor(meta("stretch"))(np.zeros((10, 10), np.uint8))
