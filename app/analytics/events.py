"""Object events, Frigate-style: ``new`` when a track is confirmed, ``update`` when its label or stationary state
changes (and at most every ``update_every_s`` otherwise), ``end`` when it is lost for good. Each carries the
object's id, label, track-level score, box, first/last pts, frame count, stationary flag, a subsampled path of
its anchor point and, when a snapshot folder is given, its best snapshot (crop + full frame, chosen by
score x area)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .snapshots import SnapshotStore
from .tracker import Track, Tracker


@dataclass
class _Said:
    label: str
    stationary: bool
    pts: float
    zones: tuple[str, ...] = ()


@dataclass
class ObjectEvents:
    tracker: Tracker
    source: str = ""
    update_every_s: float = 5.0
    snapshots: SnapshotStore | None = None
    said: dict[int, _Said] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # distinct objects per label, counted at their end
    zones_of: Callable[[int], list[str]] | None = None  # the zones an object is in (rules), when there are rules
    clip_for: Callable[[int], str] | None = None  # where the object's clip will be (the service's event clips)

    def step(self, image: np.ndarray | None, pts_s: float, shown: list[Track]) -> list[dict]:
        """The events of one frame, after ``tracker.update`` returned ``shown``."""
        events = []
        if self.snapshots is not None and image is not None:
            for t in shown:
                self.snapshots.offer(t, image, self.label(t), pts_s)
        for t in self.tracker.activated:
            if self.tracker.reported(t):
                events.append(self._event("new", t, pts_s))
        for t in shown:
            said = self.said.get(t.id)
            if said is None:
                if self.tracker.reported(t):  # its score rose to the reporting floor after confirmation
                    events.append(self._event("new", t, pts_s))
                continue
            changed = said.label != self.label(t) or said.stationary != t.stationary or said.zones != self._zones(t)
            if changed or pts_s - said.pts >= self.update_every_s:
                events.append(self._event("update", t, pts_s))
        events += [self._event("end", t, pts_s) for t in self.tracker.ended if t.id in self.said]
        if self.snapshots is not None:  # objects never reported (too weak) end without an event: drop their snapshot
            for t in self.tracker.ended:
                if t.id not in self.said:
                    self.snapshots.forget(t.id)
        return events

    def finish(self, pts_s: float) -> list[dict]:
        """End every object still open (the source is over)."""
        self.tracker.finish()
        return [self._event("end", t, pts_s) for t in self.tracker.ended if t.id in self.said]

    def _zones(self, t: Track) -> tuple[str, ...]:
        return tuple(self.zones_of(t.id)) if self.zones_of is not None else ()

    def label(self, t: Track) -> str:
        names = self.tracker.class_names
        return names[t.class_id] if 0 <= t.class_id < len(names) else str(t.class_id)

    def _event(self, kind: str, t: Track, pts_s: float) -> dict:
        label = self.label(t)
        x1, y1, x2, y2 = (round(float(v), 1) for v in t.box)
        event = {
            "type": kind, "source": self.source, "pts_s": round(pts_s, 3), "id": t.id, "label": label,
            "score": round(t.score, 3), "box": [x1, y1, x2, y2], "first_pts_s": round(t.first_pts, 3),
            "last_pts_s": round(t.last_pts, 3), "frames": t.hits, "stationary": t.stationary,
            "path": [list(p) for p in t.path[-50:]],
        }  # fmt: skip
        if self.zones_of is not None:
            event["zones"] = list(self._zones(t))
        if self.clip_for is not None:
            event["clip"] = self.clip_for(t.id)
        if self.snapshots is not None:
            event["snapshot"] = self.snapshots.write(t.id)
        if kind == "end":
            self.said.pop(t.id, None)
            self.counts[label] += 1
            if self.snapshots is not None:
                self.snapshots.forget(t.id)
        else:
            self.said[t.id] = _Said(label, t.stationary, pts_s, self._zones(t))
        return event


def snapshot_folder(events_path: Path) -> Path:
    """Where an events file's snapshots go: ``<events stem>-snapshots/`` beside it."""
    return events_path.with_name(events_path.stem + "-snapshots")
