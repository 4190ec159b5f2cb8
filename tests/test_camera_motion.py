"""Camera-motion estimation and compensated tracking on a synthetic panning camera with a known motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.analytics.camera_motion import CameraMotion
from app.analytics.tracker import Tracker, TrackerConfig
from detector.detections import Detections

W, H = 640, 360


def world(seed: int = 0) -> np.ndarray:
    """A textured world, larger than the view, for the camera to pan over."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (H * 2 // 8, W * 3 // 8, 3), dtype=np.uint8)
    return cv2.resize(noise, (W * 3, H * 2), interpolation=cv2.INTER_LINEAR)


def view(scene: np.ndarray, x: float, y: float) -> np.ndarray:
    m = np.array([[1.0, 0.0, -x], [0.0, 1.0, -y]])
    return cv2.warpAffine(scene, m, (W, H))


def test_a_pan_is_measured_to_a_fraction_of_a_pixel():
    scene, motion = world(), CameraMotion("on")
    assert motion.update(view(scene, 100, 50), 0.0) is None  # the first frame has no predecessor
    for k in range(1, 6):
        affine = motion.update(view(scene, 100 + 12 * k, 50 + 3 * k), k / 30)
        assert affine is not None
        # the view moved right and down by (12, 3): the scene moves left and up in the image
        assert affine[:, 2] == pytest.approx([-12.0, -3.0], abs=0.5)
        assert affine[:, :2] == pytest.approx(np.eye(2), abs=0.01)


def test_auto_applies_compensation_only_while_the_camera_moves():
    scene = world(1)
    still, panning = CameraMotion("auto"), CameraMotion("auto")
    applied_still = [still.update(view(scene, 200, 100), k / 30) for k in range(12)]
    applied_pan = [panning.update(view(scene, 200 + 8 * k, 100), k / 30) for k in range(12)]
    assert all(a is None for a in applied_still) and not still.moving
    assert panning.moving and applied_pan[-1] is not None
    assert all(a is None for a in [CameraMotion("off").update(view(scene, 8 * k, 0), k) for k in range(3)])


def test_a_bad_mode_is_refused():
    with pytest.raises(ValueError, match="auto, on or off"):
        CameraMotion("sometimes")


def test_a_parked_car_keeps_its_id_while_the_camera_pans_fast_only_with_compensation():
    """The car stands still in the world; the camera pans 45 px a frame, more than the car's width, so without
    compensation its predicted box never overlaps the next detection."""
    scene = world(2)
    car_world = np.array([900.0, 300.0, 940.0, 330.0])
    ids = {}
    for cmc in ("off", "on"):
        tracker, motion = Tracker(("car",), TrackerConfig(high_score=0.3, new_track_score=0.3)), CameraMotion(cmc)
        seen = set()
        for k in range(20):
            x = 600 + 45 * k
            image = view(scene, x, 100)
            box = (car_world - [x, 100, x, 100])[None].astype(np.float32)
            d = Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int32), ("car",))
            shown = tracker.update(d, k / 30, motion.update(image, k / 30, box))
            seen |= {t.id for t in shown}
            if box[0, 2] < 0:
                break
        ids[cmc] = seen
    assert len(ids["on"]) == 1  # one car, one id
    assert len(ids["off"]) != 1  # never confirmed, or a new id again and again
