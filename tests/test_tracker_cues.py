"""The tracker's appearance descriptors and its merge rule, on painted frames and synthetic boxes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.analytics.appearance import describe, similarity
from app.analytics.tracker import Tracker, TrackerConfig
from tests.test_tracker import NAMES, dets

RED, BLUE = (30, 30, 200), (200, 60, 20)  # BGR


def painted(box: tuple, colour: tuple, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A grey frame with a textured ``colour`` figure filling ``box``."""
    rng = np.random.default_rng(0)
    image = np.full((*size, 3), 128, np.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    noise = rng.integers(-20, 20, (y2 - y1, x2 - x1, 3))
    image[y1:y2, x1:x2] = np.clip(np.array(colour) + noise, 0, 255)
    return image


def test_descriptors_tell_colours_apart_and_small_boxes_get_none():
    box = (100, 50, 140, 150)
    red, red2, blue = (describe(painted(box, c), np.array([box]))[0] for c in (RED, (40, 25, 190), BLUE))
    sim = similarity(np.stack([red]), np.stack([red2, blue]))[0]
    assert sim[0] > 0.8 and sim[1] < 0.2
    tiny = describe(painted(box, RED), np.array([(10, 10, 14, 14)]))
    assert not tiny.any() and np.isnan(similarity(np.stack([red]), tiny)).all()


def test_a_track_takes_the_detection_that_looks_like_it_over_a_closer_one():
    """Two people at nearly the same place: the red one's track follows the red box, although the blue box
    overlaps its prediction more. Without the appearance term it takes the blue one."""
    box = (100.0, 50.0, 140.0, 150.0)
    own = describe(painted(box, RED), np.array([box]))
    taken = {}
    for weight in (1.5, 0.0):
        tracker = Tracker(NAMES, replace(TrackerConfig(), appearance_weight=weight))
        for i in range(5):
            tracker.update(dets((*box, 0.9, 0)), i / 10, None, own)
        (track,) = [t for t in tracker.tracks if t.state == "confirmed"]
        red_box, blue_box = (106.0, 50.0, 146.0, 150.0), (102.0, 50.0, 142.0, 150.0)
        looks = np.concatenate([describe(painted(red_box, RED), np.array([red_box])),
                                describe(painted(blue_box, BLUE), np.array([blue_box]))])  # fmt: skip
        tracker.update(dets((*red_box, 0.9, 0), (*blue_box, 0.9, 0)), 0.5, None, looks)
        taken[weight] = next(d for d, t in tracker.matched.items() if t is track)
    assert taken == {1.5: 0, 0.0: 1}


def test_a_box_around_two_tracked_people_moves_neither_and_starts_nothing():
    """One person behind another, a little higher in the image: for a frame the detector draws one box around
    both. Neither track jumps into it (their anchors would cross a line that neither person crossed); then both
    go on with their ids, and no third object was made. Without the rule, one track takes the merged box."""
    tracker = Tracker(NAMES)
    back, front = (200.0, 100.0, 230.0, 180.0), (210.0, 140.0, 245.0, 235.0)
    t = 0.0
    for _ in range(5):
        tracker.update(dets((*back, 0.9, 0), (*front, 0.9, 0)), t)
        t += 0.1
    ids = {tr.id: tr.box.copy() for tr in tracker.tracks if tr.state == "confirmed"}
    assert len(ids) == 2
    tracker.update(dets((198.0, 98.0, 247.0, 236.0, 0.9, 0)), t)
    assert all(np.allclose(tr.box, ids[tr.id]) for tr in tracker.tracks)
    shown = tracker.update(dets((*back, 0.9, 0), (*front, 0.9, 0)), t + 0.1)
    assert {s.id for s in shown} == set(ids) and max(tr.id for tr in tracker.tracks) == max(ids)


def test_without_the_merge_rule_a_track_takes_the_merged_box():
    tracker = Tracker(NAMES, replace(TrackerConfig(), merge_cover=0.0))
    back, front = (200.0, 100.0, 230.0, 180.0), (210.0, 140.0, 245.0, 235.0)
    for i in range(5):
        tracker.update(dets((*back, 0.9, 0), (*front, 0.9, 0)), i / 10)
    shown = tracker.update(dets((198.0, 98.0, 247.0, 236.0, 0.9, 0)), 0.5)
    assert len(shown) == 1 and np.allclose(shown[0].box, (198.0, 98.0, 247.0, 236.0))


def test_a_box_hiding_someone_behind_it_is_an_observation_not_a_merge():
    """The front person's box covers the person behind it but is no larger than its own track's box: it is
    matched as usual (the merge rule must not blind the tracker to occluders)."""
    tracker = Tracker(NAMES)
    back, front = (212.0, 120.0, 240.0, 200.0), (205.0, 110.0, 245.0, 230.0)
    for i in range(5):
        tracker.update(dets((*back, 0.9, 0), (*front, 0.9, 0)), i / 10)
    front_id = next(tr.id for tr in tracker.tracks if np.allclose(tr.box, front))
    moved = (207.0, 110.0, 247.0, 230.0)
    shown = tracker.update(dets((*moved, 0.9, 0)), 0.5)
    assert [s.id for s in shown] == [front_id] and np.allclose(shown[0].box, moved)
