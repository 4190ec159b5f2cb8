"""GFL decoding and NMS on hand-made cases."""

from __future__ import annotations

import numpy as np

from detector.decode import GflDecoder, distribution_to_distance, make_points
from detector.nms import batched_nms
from detector.package import PackageMeta


def meta(**kw) -> PackageMeta:
    base = dict(name="t", class_names=("a", "b"), input_width=32, input_height=16, strides=(8, 16), reg_max=3)
    base.update(kw)
    return PackageMeta(**base)


def test_points_are_row_major_per_level_with_the_package_offset():
    centres, strides = make_points(meta(center_offset=0.5))
    assert len(centres) == 4 * 2 + 2 * 1
    np.testing.assert_allclose(centres[:5], [[4, 4], [12, 4], [20, 4], [28, 4], [4, 12]])
    np.testing.assert_allclose(centres[8:], [[8, 8], [24, 8]])
    assert strides.tolist() == [8] * 8 + [16] * 2
    centres0, _ = make_points(meta(center_offset=0.0))
    np.testing.assert_allclose(centres0[:2], [[0, 0], [8, 0]])


def test_distribution_expectation_matches_hand_computed_values():
    reg_max = 3
    big = 30.0
    one_hot = np.full((1, 4, reg_max + 1), -big, np.float32)
    for side, b in enumerate([0, 1, 2, 3]):
        one_hot[0, side, b] = big
    np.testing.assert_allclose(distribution_to_distance(one_hot.reshape(1, -1), reg_max), [[0, 1, 2, 3]], atol=1e-6)
    uniform = np.zeros((1, 4 * (reg_max + 1)), np.float32)
    np.testing.assert_allclose(distribution_to_distance(uniform, reg_max), [[1.5] * 4])
    # two bins with logits 0 and ln 3 -> probabilities 1/4, 3/4 -> expectation 0.75
    two = np.full((1, 4, reg_max + 1), -big, np.float32)
    two[0, :, 0], two[0, :, 1] = 0.0, np.log(3.0)
    np.testing.assert_allclose(distribution_to_distance(two.reshape(1, -1), reg_max), [[0.75] * 4], atol=1e-6)


def test_decoder_places_boxes_around_their_points_and_keeps_every_class_above_threshold():
    m = meta(center_offset=0.0)
    p, c = m.num_points(), m.num_classes
    raw = np.zeros((p, m.output_channels), np.float32)
    raw[:, c:] = -30.0
    raw[5, 0], raw[5, 1] = 0.9, 0.6  # point 5 = (8, 8) on stride 8; both classes above 0.5
    bins = raw[5, c:].reshape(4, 4)
    bins[0, 1] = bins[1, 1] = bins[2, 2] = bins[3, 1] = 30.0  # l=1, t=1, r=2, b=1 strides
    raw[5, c:] = bins.ravel()
    boxes, scores, classes = GflDecoder(m)(raw, 0.5, 1000)
    order = np.argsort(-scores)
    np.testing.assert_allclose(boxes[order], [[0, 0, 24, 16], [0, 0, 24, 16]], atol=1e-4)
    assert classes[order].tolist() == [0, 1]
    np.testing.assert_allclose(scores[order], [0.9, 0.6])


def test_nms_suppresses_within_a_class_only_and_caps_the_count():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0], np.int32)
    assert batched_nms(boxes, scores, classes, 0.6, 100).tolist() == [0, 2, 3]
    assert batched_nms(boxes, scores, classes, 0.9, 100).tolist() == [0, 1, 2, 3]  # IoU 0.81 < 0.9
    assert batched_nms(boxes, scores, classes, 0.6, 2).tolist() == [0, 2]
    assert batched_nms(boxes[:0], scores[:0], classes[:0], 0.6, 100).tolist() == []


def test_in_graph_decoding_gives_the_same_detections(plus320, tiny_val_images, tmp_path):
    import onnx

    from detector.detector import Detector
    from detector.graph_decode import add_distance_decoding
    from detector.images import read_image

    model, meta = add_distance_decoding(onnx.load(str(plus320)))
    assert meta.output_layout == "gfl_distances"
    onnx.save(model, tmp_path / "dist.onnx")
    a, b = Detector.load(plus320, conf=0.2), Detector.load(tmp_path / "dist.onnx", conf=0.2)
    assert b.backend.infer(np.zeros((1, 3, 320, 320), np.float32)).shape == (1, meta.num_points(), 84)
    for path in tiny_val_images[:3]:
        frame = read_image(path)
        da, db = a(frame), b(frame)
        assert len(da) == len(db) > 0
        np.testing.assert_allclose(da.boxes, db.boxes, atol=0.05)
        assert da.class_ids.tolist() == db.class_ids.tolist()


def test_opencv_nms_keeps_what_the_numpy_loop_keeps_on_real_outputs(tiny_val_images):
    """The OpenCV path replaced the numpy loop; on real candidates both keep the same boxes in the same order."""
    from app.models import DEFAULT
    from detector import Detector
    from detector.images import read_image
    from detector.nms import batched_nms_numpy
    from detector.preprocess import Preprocessor

    det = Detector.load(DEFAULT, conf=0.05)
    pre = Preprocessor(det.meta)
    for path in tiny_val_images[:12]:
        x, _ = pre(read_image(path))
        boxes, scores, classes = det._decoder(det.backend.infer(x[None])[0], 0.05, 1000)
        assert len(boxes) > 10
        for iou in (0.3, 0.6):
            assert batched_nms(boxes, scores, classes, iou, 100).tolist() == \
                batched_nms_numpy(boxes, scores, classes, iou, 100).tolist()
