"""Imported ncnn packages run by ONNX Runtime match PyPI ncnn running the original files."""

from __future__ import annotations

import numpy as np
import pytest

from detector.decode import GflDecoder
from detector.detector import Detector
from detector.images import read_image
from detector.preprocess import Preprocessor
from tests.conftest import need_shared

pytest.importorskip("ncnn", reason="the parity tests need PyPI ncnn (dev extra)")

SCORE_TOL = 2e-3
BOX_TOL_PX = 0.5


@pytest.mark.parametrize("name", ["nanodet-plus-m_416", "nanodet-plus-m_320"])
def test_scores_and_boxes_match_ncnn_on_coco_images(name, request, tiny_val_images):
    from detector.ncnn.reference import NcnnReference

    package = request.getfixturevalue("plus416" if name.endswith("416") else "plus320")
    det = Detector.load(package)
    ref = NcnnReference(need_shared("weights", "nanodet", f"{name}.param"))
    pre, decoder = Preprocessor(det.meta), GflDecoder(det.meta)
    c = det.meta.num_classes
    checked = 0
    for path in tiny_val_images[:12]:
        x, _ = pre(read_image(path))
        ours, theirs = det.backend.infer(x[None])[0], ref(x)
        assert ours.shape == theirs.shape == (det.meta.num_points(), det.meta.output_channels)
        assert np.abs(ours[:, :c] - theirs[:, :c]).max() <= SCORE_TOL
        points = np.nonzero(theirs[:, :c].max(axis=1) > 0.05)[0]
        assert len(points) > 0
        box_diff = np.abs(decoder.boxes_at(ours, points) - decoder.boxes_at(theirs, points)).max()
        assert box_diff <= BOX_TOL_PX
        checked += len(points)
    assert checked > 100


def test_batched_inference_equals_one_by_one(plus320, tiny_val_images):
    det = Detector.load(plus320)
    frames = [read_image(p) for p in tiny_val_images[:3]]
    batched = det(frames)
    for frame, got in zip(frames, batched, strict=True):
        single = det(frame)
        assert len(single) == len(got) > 0
        np.testing.assert_allclose(single.boxes, got.boxes, atol=1e-3)
        np.testing.assert_allclose(single.scores, got.scores, atol=1e-5)
