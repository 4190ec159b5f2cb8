"""The pipeline's object stage: detections -> tracks -> object events (and a MOTChallenge file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detector.detections import Detections

from ..frame import Frame
from .appearance import describe
from .approach import CloseApproach
from .camera_motion import CameraMotion
from .events import ObjectEvents, snapshot_folder
from .mot import MotWriter
from .rules import RuleEngine
from .rules_file import Rules
from .snapshots import SnapshotStore
from .tracker import Tracker, TrackerConfig


class ObjectStage:
    """Feeds each frame's detections to the tracker; returns what to show (confirmed tracks, labelled by
    their vote, with their ids) and the object events of that frame."""

    def __init__(self, class_names: tuple[str, ...], conf: float, source: str = "", events: Path | None = None,
                 mot: Path | None = None, config: TrackerConfig | None = None, rules: Rules | None = None,
                 clip_for: Callable[[int], str] | None = None, motion: CameraMotion | None = None,
                 approach: CloseApproach | None = None) -> None:  # fmt: skip
        config = config or TrackerConfig(high_score=conf, new_track_score=conf, low_score=min(0.1, conf),
                                         min_track_score=conf)  # fmt: skip
        self.tracker = Tracker(class_names, config)
        snapshots = SnapshotStore(snapshot_folder(events)) if events is not None else None
        state = events.with_name(events.stem + "-counts.json") if events is not None else None
        self.rules = RuleEngine(rules, class_names, state) if rules is not None else None
        self.events = ObjectEvents(self.tracker, source, snapshots=snapshots, clip_for=clip_for,
                                   zones_of=self.rules.zones_of if self.rules else None)  # fmt: skip
        self.mot = MotWriter(mot) if mot is not None else None
        self.motion, self.approach = motion, approach
        self.last_pts_s, self.last_pts_ns = 0.0, 0

    @property
    def detector_conf(self) -> float:
        """The detector must pass the weak detections too: they keep occluded tracks alive."""
        return self.tracker.cfg.low_score

    def step(self, frame: Frame, detections: Detections, untracked: bool = False) -> tuple[Detections, list[dict]]:
        """``untracked``: also return the strong detections no confirmed track took (track id -1)."""
        pts_s = frame.pts_ns / 1e9
        self.last_pts_s, self.last_pts_ns = pts_s, frame.pts_ns
        if self.rules is not None:
            self.rules.bind(frame.width, frame.height)
            detections = self.rules.unmasked(detections)
        affine = self.motion.update(frame.image, pts_s, detections.boxes) if self.motion is not None else None
        looks = describe(frame.image, detections.boxes) if self.tracker.uses_appearance else None
        shown = self.tracker.update(detections, pts_s, affine, looks)
        if self.mot is not None:
            self.mot.add(self.tracker, shown)
        drawn = self.tracker.with_untracked(detections, shown) if untracked else self.tracker.as_detections(shown)
        records = []
        if self.rules is not None:
            records += self.rules.step(pts_s, shown, [self.events.label(t) for t in shown])
            for t in self.tracker.ended:
                records += self.rules.end(t.id, self.events.label(t), pts_s)
        if self.approach is not None:
            self.approach.bind(frame.width, frame.height)
            records += self.approach.step(pts_s, shown, [self.events.label(t) for t in shown])
        return drawn, self.events.step(frame.image, pts_s, shown) + records

    def finish(self) -> list[dict]:
        ending = [t for t in self.tracker.tracks if t.state in ("confirmed", "lost")]
        zone_exits = [r for t in ending for r in self.rules.end(t.id, self.events.label(t), self.last_pts_s)
                      ] if self.rules is not None else []  # fmt: skip
        records = zone_exits + self.events.finish(self.last_pts_s)
        if self.mot is not None:
            self.mot.close()
        return records
