"""capture -> detect (+ tracking hook) -> sinks, as threads joined by bounded queues.

Live sources keep only the newest frame between capture and detection (latency stays flat when the
model is slower than the camera; the drops are counted). Files lose nothing: full queues block the
producer (back-pressure), so a replay is frame-exact. A dropped live stream is reopened with
exponential backoff and the gap is logged; the run goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from detector.detections import Detections
from detector.detector import Detector

from .capture.gst_capture import CaptureError, GstCapture
from .capture.spec import SourceSpec
from .frame import Frame

DONE = object()


class LatestSlot:
    """A one-item queue whose put replaces the unread item (and counts it as dropped)."""

    def __init__(self) -> None:
        self.cond, self.item, self.has, self.dropped = threading.Condition(), None, False, 0

    def put(self, item: object) -> None:
        with self.cond:
            if self.has and self.item is not DONE:
                self.dropped += 1
            self.item, self.has = item, True
            self.cond.notify()

    def get(self, timeout: float | None = None) -> object:
        with self.cond:
            if not self.cond.wait_for(lambda: self.has, timeout):
                raise queue.Empty
            self.has = False
            return self.item

    def qsize(self) -> int:
        return int(self.has)


@dataclass
class StageStats:
    name: str
    count: int = 0
    busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.busy_s += seconds

    @property
    def fps(self) -> float:
        return self.count / max(time.monotonic() - self.started, 1e-9)

    @property
    def latency_ms(self) -> float:
        return 1e3 * self.busy_s / max(self.count, 1)


class Sink:
    """Receives every processed frame with its detections (and the annotated image when wanted)."""

    wants_annotated = False

    def write(self, frame: Frame, detections: Detections, annotated) -> None: ...

    def close(self) -> None: ...


@dataclass
class Summary:
    frames: int
    dropped: int
    reconnects: int
    classes: Counter
    stages: list[StageStats]
    seconds: float
    error: str = ""


class Pipeline:
    def __init__(self, spec: SourceSpec, detector: Detector, sinks: list[Sink], annotate: Callable | None = None,
                 track: Callable[[Detections], Detections] | None = None, max_frames: int = 0,
                 reconnect: bool = True, capture_options: dict | None = None, log=sys.stderr,
                 retry_first_open: bool = True) -> None:  # fmt: skip
        self.spec, self.detector, self.sinks = spec, detector, sinks
        self.annotate, self.track, self.max_frames = annotate, track, max_frames
        self.reconnect, self.capture_options, self.log = reconnect and spec.live, capture_options or {}, log
        self.retry_first_open = retry_first_open  # False: a source that never opens is an error at once
        self.stop = threading.Event()
        self.frames_in: LatestSlot | queue.Queue = LatestSlot() if spec.live else queue.Queue(maxsize=4)
        self.frames_out: queue.Queue = queue.Queue(maxsize=8)
        self.stats = {n: StageStats(n) for n in ("capture", "detect", "sinks")}
        self.classes: Counter = Counter()
        self.reconnects, self.error = 0, ""

    # -- stages ---------------------------------------------------------------------------
    def _capture(self) -> None:
        backoff, index, lost_at = 0.5, 0, None
        try:
            while not self.stop.is_set():
                try:
                    cap = GstCapture(self.spec, **self.capture_options).open()
                except CaptureError as exc:
                    if not self.reconnect or (index == 0 and lost_at is None and not self.retry_first_open):
                        raise
                    self._say(f"source unavailable: {exc}; retrying in {backoff:.1f} s")
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if lost_at is not None:
                    self._say(f"source back after a {time.monotonic() - lost_at:.1f} s gap")
                    self.reconnects += 1
                backoff = 0.5
                try:
                    while not self.stop.is_set():
                        t0 = time.perf_counter()
                        frame = cap.read()
                        if frame is None:
                            if self.reconnect:
                                raise CaptureError(f"{self.spec.name}: stream ended")
                            return
                        self.stats["capture"].add(time.perf_counter() - t0)
                        self._put(self.frames_in, dataclasses.replace(frame, index=index))
                        index += 1
                        if self.max_frames and index >= self.max_frames:
                            return
                except CaptureError as exc:
                    if not self.reconnect:
                        raise
                    lost_at = time.monotonic()
                    self._say(f"source lost: {exc}; reconnecting")
                finally:
                    cap.close()
        except CaptureError as exc:
            self.error = str(exc)
        finally:
            self._put(self.frames_in, DONE, force=True)

    def _detect(self) -> None:
        try:
            while True:
                frame = self.frames_in.get()
                if frame is DONE:
                    return
                t0 = time.perf_counter()
                dets = self.detector(frame.image)
                if self.track is not None:
                    dets = self.track(dets)
                self.classes.update(dets.labels)
                annotated = self.annotate(frame, dets, self) if self.annotate else None
                self.stats["detect"].add(time.perf_counter() - t0)
                self._put(self.frames_out, (frame, dets, annotated))
        finally:
            self._put(self.frames_out, DONE, force=True)

    def _sinks(self) -> None:
        while True:
            item = self.frames_out.get()
            if item is DONE:
                return
            t0 = time.perf_counter()
            for sink in self.sinks:
                sink.write(*item)
            self.stats["sinks"].add(time.perf_counter() - t0)

    # -- plumbing -------------------------------------------------------------------------
    def _put(self, q, item, force: bool = False) -> None:
        """Blocking put that still notices a stop request (files: back-pressure)."""
        if isinstance(q, LatestSlot):
            q.put(item)
            return
        while True:
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set() and not force:
                    return
                if self.stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        q.get_nowait()

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    @property
    def dropped(self) -> int:
        return getattr(self.frames_in, "dropped", 0)

    def run(self) -> Summary:
        """Run until the source ends, ``stop`` is set (SIGINT/SIGTERM) or ``max_frames``; always closes sinks."""
        start = time.monotonic()
        threads = [threading.Thread(target=f, name=f.__name__, daemon=True)
                   for f in (self._capture, self._detect, self._sinks)]  # fmt: skip
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.2)
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=10)
            for sink in self.sinks:
                sink.close()
        return Summary(self.stats["sinks"].count, self.dropped, self.reconnects, self.classes,
                       list(self.stats.values()), time.monotonic() - start, self.error)  # fmt: skip
