"""Overlay renderer: boxes in stable class colours where the detections are."""

from __future__ import annotations

import numpy as np

from app.overlay import annotate, class_colour
from detector.detections import Detections


def test_class_colours_are_stable_and_distinct():
    colours = [class_colour(i) for i in range(80)]
    assert colours == [class_colour(i) for i in range(80)]
    assert len(set(colours)) == 80


def test_boxes_are_drawn_in_their_class_colour_and_the_input_is_untouched():
    frame = np.zeros((120, 160, 3), np.uint8)
    dets = Detections(np.array([[20, 30, 100, 90]], np.float32), np.array([0.9], np.float32),
                      np.array([2], np.int32), ("a", "b", "car"))  # fmt: skip
    out = annotate(frame, dets)
    assert frame.max() == 0
    colour = np.array(class_colour(2), np.uint8)
    assert (out[60, 20] == colour).all() and (out[89, 60] == colour).all()  # left and bottom edges
    assert (out[60, 60] == 0).all()  # inside stays untouched
    assert (out[5:30, 20:60] != 0).any()  # label above the box
