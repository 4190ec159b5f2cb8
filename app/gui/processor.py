"""What the GUI does to every frame, off the GUI thread: detect, draw, record. No Qt here.

The last frame's raw network output is kept, so a threshold or class-filter change on a paused frame
re-thresholds it at once without running the model again.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.detections import Detections
from detector.detector import Detector
from detector.errors import KestrelError

from ..analytics.objects import ObjectStage
from ..analytics.rules_file import Rules
from ..frame import Frame
from ..overlay import annotate, draw_rules
from ..sinks.adapters import RecordingSink


@dataclass(frozen=True)
class ViewResult:
    """One processed frame, as the view shows it."""

    frame: Frame
    detections: Detections
    annotated: np.ndarray  # HxWx3 BGR with the overlay
    detect_ms: float

    @property
    def counts(self) -> Counter:
        return Counter(self.detections.labels)


class RecorderSlot:
    """An annotated recording the user starts and stops while frames flow (thread-safe).

    Frames are written in increasing pts only, so stepping back or seeking while recording never
    corrupts the file; the container is the crash-safe one of ``kestrel run --save``.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sink: RecordingSink | None = None
        self.last_pts: int | None = None
        self.error = ""  # why the recording stopped by itself (full disk, unwritable location); the GUI says it

    @property
    def active(self) -> bool:
        return self.sink is not None

    def start(self, path: Path, fps_hint: float = 30.0) -> None:
        """Start recording to ``path``; KestrelError when the location cannot be written."""
        from ..outputs import check_output, probe_writable
        from ..sinks.recorder import check_container

        check_output(path)
        check_container(path)
        probe_writable(path)
        with self.lock:
            if self.sink is not None:
                self.sink.close()
            self.sink, self.last_pts, self.error = RecordingSink(path, default_fps=fps_hint), None, ""

    def write(self, frame: Frame, detections: Detections, annotated: np.ndarray) -> None:
        with self.lock:
            if self.sink is None or (self.last_pts is not None and frame.pts_ns <= self.last_pts):
                return
            try:
                self.sink.write(frame, detections, annotated)
            except KestrelError as exc:  # the recording ends; what it holds stays playable
                self.error, failed, self.sink = str(exc), self.sink, None
                with contextlib.suppress(KestrelError):
                    failed.close()
                return
            self.last_pts = frame.pts_ns

    def stop(self) -> tuple[Path, int] | None:
        """Finish the file; (path, frames written), or None when nothing was recording.
        KestrelError when the file could not be finished."""
        with self.lock:
            sink, self.sink = self.sink, None
        if sink is None:
            return None
        sink.close()
        return sink.path, sink.frames


class FrameProcessor:
    """Detect, track, draw and record one frame at a time for a GUI session. Object events go to
    ``object_events`` (drained by the GUI thread, so none is lost when the view skips frames)."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.recorder = RecorderSlot()
        self.lock = threading.Lock()
        self.last: tuple[Frame, np.ndarray, object] | None = None  # frame, raw output, input transform
        self.frames, self.busy_s = 0, 0.0
        self.object_events: queue.SimpleQueue = queue.SimpleQueue()
        self.rules: Rules | None = None
        self.objects = self._new_objects()
        self.last_pts: int | None = None

    def _new_objects(self) -> ObjectStage:
        return ObjectStage(self.detector.class_names, self.detector.conf, rules=self.rules)

    def set_rules(self, rules: Rules | None) -> None:
        """New zones and lines (from the editor): tracking and counting start again with them."""
        with self.lock:
            self.rules = rules
            self.objects = self._new_objects()

    def hud_lines(self) -> list[str]:
        engine = self.objects.rules
        return engine.hud_lines() if engine is not None else []

    def _overlay(self, frame: Frame, detections: Detections) -> np.ndarray:
        image = annotate(frame.image, detections)
        engine = self.objects.rules
        if engine is not None:
            engine.bind(frame.width, frame.height)
            draw_rules(image, engine.rules)
        return image

    def set_detector(self, detector: Detector) -> None:
        with self.lock:
            self.detector, self.last = detector, None
            self.objects = self._new_objects()

    def track(self, frame: Frame, detections: Detections) -> Detections:
        """Tracked detections for ``frame``; a jump back in time (a seek, a step back) starts tracking afresh."""
        with self.lock:
            if self.last_pts is not None and not 0 < frame.pts_ns - self.last_pts < 2e9:
                for record in self.objects.finish():
                    self.object_events.put(record)
                self.objects = self._new_objects()
            self.last_pts = frame.pts_ns
            objects = self.objects
        tracked, records = objects.step(frame, detections, untracked=True)
        for record in records:
            self.object_events.put(record)
        return tracked

    def process(self, frame: Frame) -> ViewResult:
        t0 = time.perf_counter()
        with self.lock:
            detector = self.detector
        raw, transform = detector.raw_output(frame.image)
        with self.lock:
            self.last = (frame, raw, transform)
        return self._finish(frame, self.track(frame, detector.postprocess(raw, transform)), t0)

    def redo(self) -> ViewResult | None:
        """The last frame again under the current thresholds and filter (no inference)."""
        with self.lock:
            if self.last is None:
                return None
            frame, raw, transform = self.last
            detector = self.detector
        t0 = time.perf_counter()
        return ViewResult(frame, (dets := detector.postprocess(raw, transform)), self._overlay(frame, dets),
                          1e3 * (time.perf_counter() - t0))  # fmt: skip

    def draw(self, frame: Frame, detections: Detections) -> np.ndarray:
        return self._overlay(frame, detections)

    def _finish(self, frame: Frame, detections: Detections, t0: float) -> ViewResult:
        image = self._overlay(frame, detections)
        self.recorder.write(frame, detections, image)
        seconds = time.perf_counter() - t0
        self.frames += 1
        self.busy_s += seconds
        return ViewResult(frame, detections, image, 1e3 * seconds)

    @property
    def latency_ms(self) -> float:
        return 1e3 * self.busy_s / max(self.frames, 1)
