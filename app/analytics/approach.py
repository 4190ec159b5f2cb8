"""Close-approach warnings for a forward-facing (dashcam) view: time to contact from the growth of a tracked road
user's box in the ego corridor.

An object at distance Z closing at speed v has an image height h proportional to 1/Z, so 1/h falls linearly
in time and reaches 0 at contact. Over a short window the track's observed heights give 1/h = a + b*t by least
squares; the time to contact at the newest observation is (1/h) / -b. For two samples this is the classic
TTC = dt / (s - 1) with s = h(t) / h(t - dt); the fit over the window smooths the detector's box jitter. An
object that is not closing (b >= 0) has no TTC.

Only near objects are considered: a box at least ``near`` of the frame's height (0.25: for a dashcam with a 60
degree vertical field of view, a car within about 5 m). A near miss is near and closing; a far car that closes
fast is not yet one. The same geometry holds for a fixed camera over a road, whose oncoming cars grow as they
come: close approach is meant for cameras on a vehicle, and the gate keeps such a view quiet only while its
cars stay smaller than a quarter of the frame's height.

Only objects in the ego path are considered: at the object's own depth, the ego vehicle's path spans
``ego_half_width_m`` either side of the heading column, and the box's own width measures metres there (a car is
about 1.8 m wide, a person 0.5 m). An object whose box centre lies further from the heading column than half its
own width plus the path's half-width, in those units, passes beside the camera, however fast it grows: the
oncoming cars of a fixed camera over a road, which grow as they pass under it. This holds across depths where
the fixed corridor (the trapezoid at the bottom centre) cannot.

A ``close_approach`` event fires when an object's TTC stays under ``ttc_s`` for ``hold_s``; it re-arms once the
TTC has been above ``ttc_s`` * 1.5 (or gone) for ``hold_s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

ROAD_USERS = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
# typical widths (metres) of the road users as a camera behind or ahead of them sees them
WIDTH_M = {"person": 0.5, "bicycle": 0.6, "motorcycle": 0.8, "car": 1.8, "bus": 2.5, "truck": 2.5}
# the ego corridor as fractions of the frame: the bottom centre, narrowing towards the horizon
CORRIDOR = ((0.15, 1.0), (0.85, 1.0), (0.56, 0.45), (0.44, 0.45))


@dataclass(frozen=True)
class ApproachConfig:
    ttc_s: float = 2.0  # warn below this time to contact
    hold_s: float = 0.3  # ...sustained this long
    window_s: float = 0.5  # the height history the TTC is fitted over
    min_samples: int = 4
    near: float = 0.25  # only boxes at least this share of the frame's height: near, not merely closing
    classes: tuple[str, ...] = ROAD_USERS
    corridor: tuple[tuple[float, float], ...] = CORRIDOR  # fractions of width, height
    heading: float = 0.5  # the image column (fraction of the width) the camera travels towards
    ego_half_width_m: float = 0.9  # half the width of the vehicle carrying the camera

    def __post_init__(self) -> None:
        if self.ttc_s <= 0 or self.hold_s < 0 or self.window_s <= 0 or self.min_samples < 2:
            raise ValueError("approach: ttc_s and window_s must be > 0, hold_s >= 0, min_samples >= 2")
        if not 0 <= self.near < 1:
            raise ValueError(f"approach: near must be in 0..1 (a share of the frame height), got {self.near}")
        if not 0 <= self.heading <= 1 or self.ego_half_width_m <= 0:
            raise ValueError("approach: heading must be in 0..1 (a share of the width), ego_half_width_m > 0")
        if len(self.corridor) < 3:
            raise ValueError("approach: the corridor needs at least 3 points")


def time_to_contact(times: np.ndarray, heights: np.ndarray) -> float | None:
    """TTC (seconds) at the last sample from box heights over time, or None when the object is not closing."""
    if len(times) < 2 or np.ptp(times) <= 0:
        return None
    inverse = 1.0 / np.maximum(heights, 1e-6)
    b, a = np.polyfit(times - times[-1], inverse, 1)  # 1/h = a + b (t - t_last)
    if b >= 0 or a <= 0:
        return None
    return float(a / -b)


def corridor_overlap(box: np.ndarray, corridor_px: np.ndarray) -> bool:
    """Whether the box's bottom edge meets the corridor (a convex polygon, pixels) at the box's bottom line."""
    x1, _, x2, y2 = (float(v) for v in box)
    xs = []
    pts = np.vstack([corridor_px, corridor_px[:1]])
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:], strict=True):
        if (ay - y2) * (by - y2) <= 0 and ay != by:
            xs.append(ax + (y2 - ay) * (bx - ax) / (by - ay))
    return len(xs) >= 2 and x1 <= max(xs) and x2 >= min(xs)


def in_path(box: np.ndarray, heading_px: float, width_m: float, ego_half_width_m: float) -> bool:
    """Whether an object of real width ``width_m`` with this box overlaps the ego path at its own depth: the
    box's width in pixels is ``width_m`` there, so the path spans ego_half_width_m / width_m box widths either
    side of the heading column."""
    x1, _, x2, _ = (float(v) for v in box)
    reach = (0.5 + ego_half_width_m / width_m) * (x2 - x1)
    return abs((x1 + x2) / 2 - heading_px) <= reach


@dataclass
class _State:
    samples: deque = field(default_factory=deque)  # (t, h)
    below_since: float | None = None
    above_since: float | None = None
    armed: bool = True
    ttc: float | None = None


class CloseApproach:
    def __init__(self, class_names: tuple[str, ...], config: ApproachConfig | None = None) -> None:
        self.cfg = config or ApproachConfig()
        self.wanted = {i for i, n in enumerate(class_names) if n in self.cfg.classes}
        self.states: dict[int, _State] = {}
        self.corridor_px: np.ndarray | None = None
        self.min_height = 0.0
        self.size = (0, 0)

    def bind(self, width: int, height: int) -> None:
        self.corridor_px = np.array(self.cfg.corridor, np.float64) * [width, height]
        self.min_height = self.cfg.near * height
        self.size = (width, height)

    def _clipped(self, box: np.ndarray, margin: float = 2.0) -> bool:
        w, h = self.size
        return bool(box[0] <= margin or box[1] <= margin or box[2] >= w - margin or box[3] >= h - margin)

    def ttc(self, track_id: int) -> float | None:
        state = self.states.get(track_id)
        return state.ttc if state is not None else None

    def step(self, pts_s: float, tracks: list, labels: list[str]) -> list[dict]:
        """Feed the tracks observed in this frame (with their ``id``, ``box``, ``class_id``); returns the
        close_approach events."""
        cfg, records, seen = self.cfg, [], set()
        for t, label in zip(tracks, labels, strict=True):
            if t.class_id not in self.wanted:
                continue
            seen.add(t.id)
            s = self.states.setdefault(t.id, _State())
            if self._clipped(t.box):  # cut by the frame's edge, its height no longer measures its distance
                s.samples.clear()
            s.samples.append((pts_s, float(t.box[3] - t.box[1])))
            while s.samples and pts_s - s.samples[0][0] > cfg.window_s:
                s.samples.popleft()
            near = s.samples[-1][1] >= self.min_height
            inside = (near and self.corridor_px is not None and corridor_overlap(t.box, self.corridor_px)
                      and in_path(t.box, cfg.heading * self.size[0], WIDTH_M.get(label, 1.8), cfg.ego_half_width_m))
            times, heights = np.array([x[0] for x in s.samples]), np.array([x[1] for x in s.samples])
            s.ttc = time_to_contact(times, heights) if inside and len(s.samples) >= cfg.min_samples else None
            if s.ttc is not None and s.ttc < cfg.ttc_s:
                s.above_since = None
                s.below_since = pts_s if s.below_since is None else s.below_since
                if s.armed and pts_s - s.below_since >= cfg.hold_s:
                    s.armed = False
                    records.append({"type": "close_approach", "id": t.id, "label": label, "pts_s": round(pts_s, 3),
                                    "ttc_s": round(s.ttc, 2), "box": [round(float(v), 1) for v in t.box]})  # fmt: skip
            else:
                s.below_since = None
                if s.ttc is None or s.ttc > cfg.ttc_s * 1.5:
                    s.above_since = pts_s if s.above_since is None else s.above_since
                    if pts_s - s.above_since >= cfg.hold_s:
                        s.armed = True
        for gone in [i for i in self.states if i not in seen and pts_s - self.states[i].samples[-1][0] > 2.0]:
            del self.states[gone]
        return records
