"""Zones, lines and masks applied to tracked objects: line crossings, zone enter/exit/dwell/loiter, occupancy.

A line counts a crossing when the object's anchor *path* crosses the segment (consecutive positions joined,
so an object that jumps over the line between two frames still counts, and one that passes the line's
extension beyond its ends does not) and then settles at least ``margin_px`` beyond it (hysteresis: jitter on
the line counts nothing), staying there ``SETTLE_S`` (an identity swapped between two people on either side is
undone before it counts; an object that ends right after crossing, at the frame's edge, still counts). By default
each object counts once per direction.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detector.detections import Detections

from .rules_file import Rules

MARGIN_PX = 3.0  # hysteresis: at least this far beyond a line or inside a zone...
MARGIN_HEIGHT = 0.1  # ...and at least this share of the box height (detector boxes jitter by a few % of their size)
SETTLE_S = 0.5  # a crossing counts once the anchor has stayed on the new side this long (or the object ended there)


def anchor_points(boxes: np.ndarray, anchor: tuple[float, float]) -> np.ndarray:
    fx, fy = anchor
    return np.stack([boxes[:, 0] + fx * (boxes[:, 2] - boxes[:, 0]), boxes[:, 1] + fy * (boxes[:, 3] - boxes[:, 1])],
                    axis=1)  # fmt: skip


def side_of(line: np.ndarray, point: np.ndarray) -> float:
    """Signed distance (pixels) of ``point`` from the line through ``line``: > 0 on its right, seen from the
    first point towards the second, in image coordinates (y down)."""
    (x1, y1), (x2, y2) = line
    dx, dy = x2 - x1, y2 - y1
    return float((dx * (point[1] - y1) - dy * (point[0] - x1)) / max(np.hypot(dx, dy), 1e-9))


def segments_cross(a: np.ndarray, b: np.ndarray, line: np.ndarray) -> bool:
    """Whether the segment a-b meets the line segment."""
    p, q = line

    def orient(u, v, w) -> float:
        return (v[0] - u[0]) * (w[1] - u[1]) - (v[1] - u[1]) * (w[0] - u[0])

    d1, d2, d3, d4 = orient(p, q, a), orient(p, q, b), orient(a, b, p), orient(a, b, q)
    return d1 * d2 <= 0 and d3 * d4 <= 0 and not (d1 == d2 == 0)


@dataclass
class _LineState:
    side: int = 0  # last settled side: +1 right, -1 left, 0 not yet settled
    last: np.ndarray | None = None  # the anchor's previous position
    touched: bool = False  # its path since it last settled met the line segment (kept as a flag, not a list:
    # an object standing on the line for hours costs nothing)
    counted: set[str] = field(default_factory=set)
    pending: tuple[str, float, int] | None = None  # a crossing waiting to settle: direction, since, new side


@dataclass
class _Visit:
    since: float
    loitered: bool = False


class RuleEngine:
    def __init__(self, rules: Rules, class_names: tuple[str, ...], state_path: Path | None = None,
                 margin_px: float = MARGIN_PX) -> None:  # fmt: skip
        self.template, self.class_names, self.margin = rules, class_names, margin_px
        self.rules: Rules | None = None  # in pixels, once the frame size is known
        self.state_path = state_path
        self.line_counts: dict[str, dict[str, Counter]] = {ln.name: {"in": Counter(), "out": Counter()}
                                                           for ln in rules.lines}  # fmt: skip
        self.zone_entries: dict[str, Counter] = {z.name: Counter() for z in rules.zones}
        self.lines: dict[tuple[int, str], _LineState] = defaultdict(_LineState)
        self.visits: dict[str, dict[int, _Visit]] = {z.name: {} for z in rules.zones}
        self.crowded: dict[str, bool] = {z.name: False for z in rules.zones}
        self._load_state()

    def bind(self, width: int, height: int) -> None:
        if self.rules is None:
            self.rules = self.template.in_pixels(width, height)

    # -- masks ------------------------------------------------------------------------------------------
    def unmasked(self, detections: Detections) -> Detections:
        """The detections whose anchor lies outside every mask."""
        if not self.rules.masks or not len(detections):
            return detections
        points = anchor_points(detections.boxes, self.rules.anchor)
        keep = np.ones(len(detections), bool)
        for polygon in self.rules.masks:
            contour = polygon.astype(np.float32)
            keep &= np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) < 0 for x, y in points])
        return detections[keep]

    # -- per frame --------------------------------------------------------------------------------------
    def step(self, pts_s: float, tracks: list, labels: list[str]) -> list[dict]:
        """Events of this frame for the tracks shown in it (``labels`` their labels)."""
        events: list[dict] = []
        if not tracks:
            return events + self._occupancy(pts_s)
        boxes = np.array([getattr(t, "smoothed_box", t.box) for t in tracks], np.float64)
        points = anchor_points(boxes, self.rules.anchor)
        margins = np.maximum(self.margin, MARGIN_HEIGHT * (boxes[:, 3] - boxes[:, 1]))
        for t, label, point, margin in zip(tracks, labels, points, margins, strict=True):
            for line in self.rules.lines:
                if not line.classes or label in line.classes:
                    events += self._line(line, t.id, label, point, pts_s, margin)
            for zone in self.rules.zones:
                if not zone.classes or label in zone.classes:
                    events += self._zone(zone, t.id, label, point, pts_s, margin)
        return events + self._occupancy(pts_s)

    def zones_of(self, track_id: int) -> list[str]:
        return [name for name, visits in self.visits.items() if track_id in visits]

    def end(self, track_id: int, label: str, pts_s: float) -> list[dict]:
        """An object that ended leaves every zone it was in."""
        events = [self._exit(name, track_id, label, pts_s) for name in self.zones_of(track_id)]
        for key in [k for k in self.lines if k[0] == track_id]:
            state = self.lines.pop(key)
            if state.pending is not None:  # it crossed and was gone before settling (e.g. at the frame's edge)
                line = next(ln for ln in self.rules.lines if ln.name == key[1])
                events += self._count(line, state, state.pending[0], track_id, label, pts_s)
        return events + self._occupancy(pts_s)

    # -- lines ------------------------------------------------------------------------------------------
    def _line(self, line, track_id: int, label: str, point: np.ndarray, pts_s: float, margin: float) -> list[dict]:
        state = self.lines[(track_id, line.name)]
        if state.last is not None and segments_cross(state.last, point, line.points):
            state.touched = True
        state.last = point
        d = side_of(line.points, point)
        if abs(d) < margin:
            return []
        side = 1 if d > 0 else -1
        if state.pending is not None:
            direction, since, new_side = state.pending
            if side != new_side:  # back where it came from before settling: no crossing
                state.pending, state.touched = None, False
                return []
            if pts_s - since < SETTLE_S:
                return []
            state.pending, state.side, state.touched = None, new_side, False
            return self._count(line, state, direction, track_id, label, pts_s)
        if state.side and side != state.side and state.touched:
            state.pending = ("in" if state.side < 0 else "out", pts_s, side)
            if SETTLE_S <= 0:
                state.last = None  # the settle step below must not see this same move again
                return self._line(line, track_id, label, point, pts_s, margin)
            return []
        state.side, state.touched = side, False
        return []

    def _count(self, line, state: _LineState, direction: str, track_id: int, label: str, pts_s: float) -> list[dict]:
        if line.count == "once" and direction in state.counted:
            return []
        state.counted.add(direction)
        self.line_counts[line.name][direction][label] += 1
        self._save_state()
        counts = self.line_counts[line.name]
        return [{"type": "line_cross", "line": line.name, "direction": direction, "id": track_id, "label": label,
                 "pts_s": round(pts_s, 3), "in": sum(counts["in"].values()), "out": sum(counts["out"].values())}]

    # -- zones ------------------------------------------------------------------------------------------
    def _zone(self, zone, track_id: int, label: str, point: np.ndarray, pts_s: float, margin: float) -> list[dict]:
        inside_by = cv2.pointPolygonTest(zone.points.astype(np.float32), (float(point[0]), float(point[1])), True)
        visits = self.visits[zone.name]
        if track_id not in visits:
            if inside_by < margin:
                return []
            visits[track_id] = _Visit(pts_s)
            self.zone_entries[zone.name][label] += 1
            self._save_state()
            return [{"type": "zone_enter", "zone": zone.name, "id": track_id, "label": label,
                     "pts_s": round(pts_s, 3), "inside": len(visits)}]  # fmt: skip
        if inside_by <= -margin:
            return [self._exit(zone.name, track_id, label, pts_s)]
        visit = visits[track_id]
        if zone.loiter_s and not visit.loitered and pts_s - visit.since >= zone.loiter_s:
            visit.loitered = True
            return [{"type": "loiter", "zone": zone.name, "id": track_id, "label": label, "pts_s": round(pts_s, 3),
                     "dwell_s": round(pts_s - visit.since, 3)}]  # fmt: skip
        return []

    def _exit(self, zone_name: str, track_id: int, label: str, pts_s: float) -> dict:
        visit = self.visits[zone_name].pop(track_id)
        return {"type": "zone_exit", "zone": zone_name, "id": track_id, "label": label, "pts_s": round(pts_s, 3),
                "dwell_s": round(pts_s - visit.since, 3), "inside": len(self.visits[zone_name])}  # fmt: skip

    def _occupancy(self, pts_s: float) -> list[dict]:
        events = []
        for zone in self.rules.zones:
            if not zone.occupancy:
                continue
            inside = len(self.visits[zone.name])
            crowded = inside >= zone.occupancy
            if crowded != self.crowded[zone.name]:
                self.crowded[zone.name] = crowded
                events.append({"type": "occupancy_start" if crowded else "occupancy_end", "zone": zone.name,
                               "inside": inside, "threshold": zone.occupancy, "pts_s": round(pts_s, 3)})  # fmt: skip
        return events

    # -- what the HUD shows, and what survives a restart ------------------------------------------------
    def hud_lines(self) -> list[str]:
        out = [f"{name}: in {sum(c['in'].values())} out {sum(c['out'].values())}"
               for name, c in self.line_counts.items()]  # fmt: skip
        out += [f"{name}: {len(self.visits[name])} inside, {sum(self.zone_entries[name].values())} entered"
                for name in self.visits]  # fmt: skip
        return out

    def _load_state(self) -> None:
        if self.state_path is None or not self.state_path.is_file():
            return
        try:
            saved = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return  # a damaged state file: counting starts again rather than refusing to run
        for name, counts in saved.get("lines", {}).items():
            if name in self.line_counts:
                for direction in ("in", "out"):
                    self.line_counts[name][direction].update(counts.get(direction, {}))
        for name, counts in saved.get("zones", {}).items():
            if name in self.zone_entries:
                self.zone_entries[name].update(counts)

    def _save_state(self) -> None:
        if self.state_path is None:
            return
        data = {"lines": {n: {d: dict(c) for d, c in v.items()} for n, v in self.line_counts.items()},
                "zones": {n: dict(c) for n, c in self.zone_entries.items()}}  # fmt: skip
        tmp = self.state_path.with_name(self.state_path.name + ".partial")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.state_path)
