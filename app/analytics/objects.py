"""The pipeline's object stage: detections -> tracks -> object events (and a MOTChallenge file)."""

from __future__ import annotations

from pathlib import Path

from detector.detections import Detections

from ..frame import Frame
from .events import ObjectEvents, snapshot_folder
from .mot import MotWriter
from .snapshots import SnapshotStore
from .tracker import Tracker, TrackerConfig


class ObjectStage:
    """Feeds each frame's detections to the tracker; returns what to show (confirmed tracks, labelled by
    their vote, with their ids) and the object events of that frame."""

    def __init__(self, class_names: tuple[str, ...], conf: float, source: str = "", events: Path | None = None,
                 mot: Path | None = None, config: TrackerConfig | None = None) -> None:  # fmt: skip
        config = config or TrackerConfig(high_score=conf, new_track_score=conf, low_score=min(0.1, conf),
                                         min_track_score=conf)  # fmt: skip
        self.tracker = Tracker(class_names, config)
        snapshots = SnapshotStore(snapshot_folder(events)) if events is not None else None
        self.events = ObjectEvents(self.tracker, source, snapshots=snapshots)
        self.mot = MotWriter(mot) if mot is not None else None
        self.last_pts_s = 0.0

    @property
    def detector_conf(self) -> float:
        """The detector must pass the weak detections too: they keep occluded tracks alive."""
        return self.tracker.cfg.low_score

    def step(self, frame: Frame, detections: Detections, untracked: bool = False) -> tuple[Detections, list[dict]]:
        """``untracked``: also return the strong detections no confirmed track took (track id -1)."""
        pts_s = frame.pts_ns / 1e9
        self.last_pts_s = pts_s
        shown = self.tracker.update(detections, pts_s)
        if self.mot is not None:
            self.mot.add(self.tracker, shown)
        drawn = self.tracker.with_untracked(detections, shown) if untracked else self.tracker.as_detections(shown)
        return drawn, self.events.step(frame.image, pts_s, shown)

    def finish(self) -> list[dict]:
        records = self.events.finish(self.last_pts_s)
        if self.mot is not None:
            self.mot.close()
        return records
