"""Time to contact and close-approach events on synthetic tracks with a known answer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from app.analytics.approach import ApproachConfig, CloseApproach, time_to_contact

NAMES = ("person", "bicycle", "car")
F = 500.0  # focal length, pixels
W, H = 640, 360


def car_box(z: float, x_centre: float = 320.0, height_m: float = 1.5, ground_row: float = 330.0,
            width_m: float = 1.8) -> np.ndarray:  # fmt: skip
    """A car (or any object of ``height_m`` x ``width_m``) at distance z (metres) whose bottom sits at
    ``ground_row``, seen with focal F."""
    h = F * height_m / z
    w = F * width_m / z
    return np.array([x_centre - w / 2, ground_row - h, x_centre + w / 2, ground_row])


def closing(z0: float, speed: float, fps: float = 30.0, seconds: float = 2.0, noise: float = 0.0, seed: int = 0,
            lateral_m: float = 0.0, size_m: tuple[float, float] = (1.5, 1.8)):  # fmt: skip
    """(t, box, true TTC) of a car closing from z0 metres at ``speed`` m/s, ``lateral_m`` to the right of the
    camera's axis; heights carry relative noise."""
    rng = np.random.default_rng(seed)
    for k in range(int(seconds * fps)):
        t = k / fps
        z = z0 - speed * t
        box = car_box(z, x_centre=W / 2 + F * lateral_m / z, height_m=size_m[0], width_m=size_m[1])
        box[[0, 2]] = np.clip(box[[0, 2]], 0, W)
        if noise:
            c, h = (box[1] + box[3]) / 2, (box[3] - box[1]) * (1 + rng.normal(0, noise))
            box = np.array([box[0], c - h / 2, box[2], c + h / 2])
        yield t, box, z / speed


def relative_errors(noise: float, seeds: int = 20) -> np.ndarray:
    """|estimate - truth| / truth of the TTC from the warning's 0.5 s window, over the range it acts on (true
    TTC from 2.5-3 s down to 1 s), for three closing cars and ``seeds`` draws of height jitter."""
    errors = []
    for seed in range(seeds):
        for z0, speed in [(12.0, 4.0), (20.0, 8.0), (30.0, 12.0)]:
            times, heights = [], []
            for t, box, true_ttc in closing(z0, speed, noise=noise, seconds=1.5, seed=seed):
                times.append(t)
                heights.append(box[3] - box[1])
                if t >= 0.5:
                    recent = [i for i, s in enumerate(times) if t - s <= 0.5]
                    estimate = time_to_contact(np.array(times)[recent], np.array(heights)[recent])
                    errors.append(abs(estimate - true_ttc) / true_ttc)
    return np.array(errors)


def test_ttc_of_a_box_growing_at_a_known_rate_is_within_ten_percent():
    assert relative_errors(0.005).max() <= 0.10  # 0.5 % height jitter (1 px on a 200 px box): every estimate
    assert np.percentile(relative_errors(0.01), 95) <= 0.10  # 1 % (2 px on 200): 95 % of them


def test_without_jitter_the_estimate_is_exact():
    samples = list(closing(15.0, 6.0, seconds=0.5))
    times = np.array([t for t, _, _ in samples])
    heights = np.array([b[3] - b[1] for _, b, _ in samples])
    assert time_to_contact(times, heights) == pytest.approx(samples[-1][2], rel=1e-6)


def test_two_samples_give_the_classic_formula():
    # s = h(t) / h(t - dt); TTC = dt / (s - 1)
    assert time_to_contact(np.array([0.0, 0.1]), np.array([50.0, 55.0])) == pytest.approx(0.1 / (55 / 50 - 1))


def test_a_receding_or_steady_object_has_no_ttc():
    assert time_to_contact(np.array([0.0, 0.1, 0.2]), np.array([60.0, 55.0, 50.0])) is None
    assert time_to_contact(np.array([0.0, 0.1, 0.2]), np.array([60.0, 60.0, 60.0])) is None


def feed(approach: CloseApproach, samples, track_id: int = 7, class_id: int = 2) -> list[dict]:
    approach.bind(W, H)
    events = []
    for t, box, _ in samples:
        track = SimpleNamespace(id=track_id, box=box, class_id=class_id)
        events += approach.step(t, [track], [NAMES[class_id]])
    return events


def test_one_event_when_a_near_car_closes_below_the_threshold_for_the_hold_time():
    # 6 m away closing at 4 m/s: TTC 1.5 s at the start, near (box ~ 125 px of 360)
    events = feed(CloseApproach(NAMES), closing(6.0, 4.0, seconds=0.9))
    assert len(events) == 1
    e = events[0]
    assert e["type"] == "close_approach" and e["id"] == 7 and e["label"] == "car"
    assert e["pts_s"] >= 0.3  # after the hold time...
    assert e["ttc_s"] == pytest.approx(6.0 / 4.0 - e["pts_s"], rel=0.1)  # ...with the TTC of that moment


def test_no_event_for_a_far_car_a_slow_approach_a_car_outside_the_corridor_or_a_clipped_box():
    assert feed(CloseApproach(NAMES), closing(40.0, 25.0, seconds=0.6)) == []  # TTC < 2 s but far: not near
    assert feed(CloseApproach(NAMES), closing(6.0, 1.0, seconds=1.0)) == []  # near but TTC 6 s
    aside = closing(6.0, 4.0, seconds=0.9, lateral_m=3.5)
    assert feed(CloseApproach(NAMES), aside) == []  # in the next lane (3.5 m to the right): outside the corridor
    cut = [(t, np.array([b[0], b[1], b[2], float(H)]), ttc) for t, b, ttc in closing(6.0, 4.0, seconds=0.9)]
    assert feed(CloseApproach(NAMES), cut) == []  # its bottom cut by the frame: its height says nothing
    assert feed(CloseApproach(NAMES, ApproachConfig(classes=("person",))), closing(6.0, 4.0, seconds=0.9)) == []


def test_only_objects_in_the_ego_path_at_their_own_depth_warn():
    """The path is 0.9 m either side of the heading: a car (1.8 m wide) 1.5 m aside overlaps it, one 2.5 m aside
    passes beside it though its box meets the bottom-centre corridor long enough to warn; a person (0.5 m)
    0.8 m aside is in it, 1.5 m aside is not."""
    beside = list(closing(8.0, 5.0, seconds=0.9, lateral_m=2.5))
    assert len(feed(CloseApproach(NAMES, ApproachConfig(ego_half_width_m=50.0)), beside)) == 1  # corridor alone
    assert feed(CloseApproach(NAMES), beside) == []
    assert len(feed(CloseApproach(NAMES), closing(6.0, 4.0, seconds=0.9, lateral_m=1.5))) == 1
    person = (1.7, 0.5)
    near = closing(6.0, 4.0, seconds=0.9, lateral_m=0.8, size_m=person)
    assert len(feed(CloseApproach(NAMES), near, class_id=0)) == 1
    aside = closing(6.0, 4.0, seconds=0.9, lateral_m=1.5, size_m=person)
    assert feed(CloseApproach(NAMES), aside, class_id=0) == []


def test_a_bad_setting_is_refused():
    with pytest.raises(ValueError, match="near"):
        ApproachConfig(near=1.5)
    with pytest.raises(ValueError, match="ttc_s"):
        ApproachConfig(ttc_s=0)
    with pytest.raises(ValueError, match="heading"):
        ApproachConfig(heading=1.2)
