"""Pipeline sinks over the recorder and the event log."""

from __future__ import annotations

from pathlib import Path

from detector.detections import Detections

from ..frame import Frame
from ..pipeline import Sink
from .events import EventLog
from .recorder import Recorder


class RecordingSink(Sink):
    """Records annotated frames; opens on the second frame, with the rate the first two pts imply."""

    wants_annotated = True

    def __init__(self, path: str | Path, default_fps: float = 30.0) -> None:
        self.path, self.default_fps = Path(path), default_fps
        self.recorder: Recorder | None = None
        self.pending: tuple | None = None

    def write(self, frame: Frame, detections: Detections, annotated) -> None:
        image = annotated if annotated is not None else frame.image
        if self.recorder is None:
            if self.pending is None:
                self.pending = (image, frame.pts_ns)
                return
            gap = frame.pts_ns - self.pending[1]
            fps = 1e9 / gap if 1e9 / 240 < gap < 1e9 else self.default_fps
            self.recorder = Recorder(self.path, image.shape[1], image.shape[0], round(fps, 3))
            self.recorder.write(*self.pending)
        self.recorder.write(image, frame.pts_ns)

    def close(self) -> None:
        if self.recorder is None and self.pending is not None:
            image, pts = self.pending
            self.recorder = Recorder(self.path, image.shape[1], image.shape[0], self.default_fps)
            self.recorder.write(image, pts)
        if self.recorder is not None:
            self.recorder.close()
        elif self.path.is_file() and self.path.stat().st_size == 0:
            self.path.unlink()  # made empty to test the location early; no frame ever came

    @property
    def frames(self) -> int:
        return self.recorder.count if self.recorder else 0


class EventSink(Sink):
    """Object events and source notices; with ``every_frame`` also one line per frame with detections."""

    def __init__(self, path: str | Path, append: bool = False, every_frame: bool = False) -> None:
        self.log = EventLog(path, append=append)
        self.every_frame = every_frame

    def write(self, frame: Frame, detections: Detections, annotated) -> None:
        if self.every_frame:
            self.log.write(frame, detections)

    def notice(self, record: dict) -> None:
        self.log.write_record(record)

    def close(self) -> None:
        self.log.close()
