"""Dashcam replay: a frame-exact time range of a file, paced or as fast as possible, every Nth frame,
with detections, events (source pts) and an annotated export holding exactly the frames of the range."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from detector.detector import Detector
from detector.errors import KestrelError

from .capture.gst_capture import GstCapture
from .capture.spec import SourceSpec
from .frame import Frame
from .overlay import annotate
from .sinks.events import EventLog
from .sinks.recorder import Recorder


@dataclass
class ReplayResult:
    frames: list[int] = field(default_factory=list)  # source pts of every processed frame
    classes: Counter = field(default_factory=Counter)
    export_frames: int = 0


def in_range(frame: Frame, start_ns: int, end_ns: int | None) -> bool:
    return frame.pts_ns >= start_ns and (end_ns is None or frame.pts_ns < end_ns)


def replay(
    path: str, detector: Detector, start_s: float = 0.0, end_s: float | None = None, speed: float = 0.0,
    step: int = 1, export: Path | None = None, events: Path | None = None, stop=None, raw: bool = False,
) -> ReplayResult:  # fmt: skip
    """Process frames with start <= pts < end (seconds). ``speed`` > 0 paces to real time x speed; ``raw``
    exports the frames as they are, without the overlay."""
    spec = SourceSpec.parse(path)
    if spec.kind != "file":
        raise KestrelError("replay takes a video file")
    if step < 1 or speed < 0 or (end_s is not None and end_s <= start_s):
        raise KestrelError("replay needs step >= 1, speed >= 0 and end > start")
    start_ns, end_ns = int(round(start_s * 1e9)), None if end_s is None else int(round(end_s * 1e9))
    cap = GstCapture(spec).open()
    result, writer, log = ReplayResult(), None, EventLog(events) if events else None
    t0, first_pts, kept = time.monotonic(), None, 0
    try:
        if start_ns > 0:
            cap.seek(start_ns)
        for frame in cap:
            if stop is not None and stop.is_set():
                break
            if end_ns is not None and frame.pts_ns >= end_ns:
                break
            if not in_range(frame, start_ns, end_ns):
                continue
            kept += 1
            if (kept - 1) % step:
                continue
            first_pts = frame.pts_ns if first_pts is None else first_pts
            if speed > 0:
                wait = (frame.pts_ns - first_pts) / 1e9 / speed - (time.monotonic() - t0)
                if wait > 0:
                    time.sleep(wait)
            dets = detector(frame.image)
            result.frames.append(frame.pts_ns)
            result.classes.update(dets.labels)
            if log:
                log.write(frame, dets)
            if export:
                writer = writer or Recorder(export, frame.width, frame.height, _fps(cap))
                writer.write(frame.image if raw else annotate(frame.image, dets), frame.pts_ns)
    finally:
        cap.close()
        if log:
            log.close()
        if writer:
            writer.close()
            result.export_frames = writer.count
    return result


def _fps(cap: GstCapture) -> float:
    caps = cap.sink.get_static_pad("sink").get_current_caps()
    if caps is not None:
        ok, num, den = caps.get_structure(0).get_fraction("framerate")
        if ok and num > 0 and den > 0:
            return num / den
    return 30.0
