"""JSON-lines events: one line per frame with detections, flushed as written (tail -f friendly)."""

from __future__ import annotations

import json
from pathlib import Path

from detector.detections import Detections

from ..frame import Frame


class EventLog:
    def __init__(self, path: str | Path, every_frame: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self.every_frame = every_frame
        self.count = 0

    def write(self, frame: Frame, detections: Detections) -> None:
        if not len(detections) and not self.every_frame:
            return
        record = {"source": frame.source, "frame": frame.index, "pts_ns": frame.pts_ns,
                  "pts_s": round(frame.pts_ns / 1e9, 6), "detections": detections.to_records()}  # fmt: skip
        self.file.write(json.dumps(record) + "\n")
        self.count += 1

    def close(self) -> None:
        self.file.close()
