"""The model report's per-clip checks (trainer/clip_checks.py) on hand-built detections, and sampling a real clip."""

from __future__ import annotations

import numpy as np
import pytest

from detector.detections import Detections
from tests.conftest import SHARED
from trainer.clip_checks import phantom_frames, sample_frames, two_class_frames

SIGN = [100, 50, 140, 90]  # a static non-object
CAR = [300, 200, 380, 260]  # a parked car the teacher also finds


def dets(*boxes: tuple[list[float], int]) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(np.array([b for b, _ in boxes], np.float32), np.full(len(boxes), 0.9, np.float32),
                      np.array([c for _, c in boxes], np.int32))  # fmt: skip


def test_two_classes_on_one_box_are_counted_per_frame_not_per_pair():
    frames = [
        dets((SIGN, 7), ([101, 50, 140, 91], 5)),  # truck and bus on one sign
        dets((SIGN, 7), ([101, 50, 140, 91], 5), (CAR, 2), (CAR, 7)),  # two such pairs: still one frame
        dets((SIGN, 7), (SIGN, 7)),  # same class twice: not a label conflict
        dets((SIGN, 7), ([120, 50, 160, 90], 5)),  # neighbours, IoU 0.33
    ]
    assert two_class_frames(frames) == 2


def test_a_static_box_the_teacher_never_confirms_is_a_phantom_and_a_parked_car_is_not():
    n = 20
    student = [dets((SIGN, 7), (CAR, 2)) for _ in range(n)]
    teacher = [dets((CAR, 2)) for _ in range(n)]
    assert phantom_frames(student, teacher) == n
    teacher_sees_sign = [dets((CAR, 2), (SIGN, 11)) for _ in range(n)]  # any class confirms an object is there
    assert phantom_frames(student, teacher_sees_sign) == 0


def test_a_box_that_comes_and_goes_is_not_static():
    student = [dets((SIGN, 7)) if i % 3 else dets() for i in range(30)]  # in two frames of three
    assert phantom_frames(student, [dets() for _ in range(30)]) == 0
    moving = [dets(([100 + 15 * i, 50, 140 + 15 * i, 90], 2)) for i in range(30)]
    assert phantom_frames(moving, [dets() for _ in range(30)]) == 0


@pytest.mark.skipif(not (SHARED / "data/videos/dashcam-crash-320x180.mp4").exists(), reason="needs ../shared/data")
def test_frames_are_sampled_evenly_over_a_real_clip():
    frames = sample_frames(SHARED / "data/videos/dashcam-crash-320x180.mp4", 12)
    assert len(frames) == 12 and frames[0].shape == (180, 320, 3)
    assert not np.array_equal(frames[0], frames[-1])
