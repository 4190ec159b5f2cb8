"""capture -> detect (+ tracking hook) -> sinks, as threads joined by bounded queues.

Live sources keep only the newest frame between capture and detection (latency stays flat when the
model is slower than the camera; the drops are counted). Files lose nothing: full queues block the
producer (back-pressure), so a replay is frame-exact. A dropped live stream is reopened with
exponential backoff and the gap is logged; the run goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from detector.detections import Detections
from detector.detector import Detector
from detector.errors import KestrelError

from .capture.gst_capture import CaptureError, GstCapture
from .capture.spec import SourceSpec

if TYPE_CHECKING:
    from .analytics.objects import ObjectStage
from .frame import Frame

DONE = object()
STALL_S = 12.0  # a live capture silent this long (longer than its own open and read timeouts) is restarted


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


class NoticeQueue:
    """Notices from several threads (the capture's source notices, the detect stage's object events), handed out
    in pts order (then arrival order): a FIFO would let a source notice overtake an object event of an earlier
    frame that the detect stage was still working on."""

    def __init__(self) -> None:
        self.lock, self.heap, self.seq = threading.Lock(), [], itertools.count()

    def put(self, record: dict) -> None:
        with self.lock:
            heapq.heappush(self.heap, (record["pts_ns"], next(self.seq), record))

    def pop(self, up_to_pts: int | None) -> dict | None:
        """The earliest notice at or before ``up_to_pts`` (any, when None), or None."""
        with self.lock:
            if not self.heap or (up_to_pts is not None and self.heap[0][0] > up_to_pts):
                return None
            return heapq.heappop(self.heap)[2]


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
    """Receives every processed frame with its detections (and the annotated image when wanted), and the
    pipeline's notices about the source (``source_lost``, ``source_back``, ``source_ended_early``)."""

    wants_annotated = False

    def write(self, frame: Frame, detections: Detections, annotated) -> None: ...

    def notice(self, record: dict) -> None: ...

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
    warnings: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(self, spec: SourceSpec, detector: Detector, sinks: list[Sink], annotate: Callable | None = None,
                 objects: ObjectStage | None = None, max_frames: int = 0,
                 reconnect: bool = True, capture_options: dict | None = None, log=sys.stderr,
                 retry_first_open: bool = True, sample_fps: float = 0.0) -> None:  # fmt: skip
        self.spec, self.detector, self.sinks = spec, detector, sinks
        self.annotate, self.objects, self.max_frames = annotate, objects, max_frames
        self.reconnect, self.capture_options, self.log = reconnect and spec.live, capture_options or {}, log
        self.retry_first_open = retry_first_open  # False: a source that never opens is an error at once
        # > 0: only frames at least 1/sample_fps apart (source time) go on to detection; the rest are decoded
        # and dropped here, counted in stats["capture"] but not in stats["detect"]
        self.sample_ns = int(1e9 / sample_fps * 0.95) if sample_fps > 0 else 0
        self.streaming = False  # a source is open and delivering frames
        self.capture: GstCapture | None = None  # the open capture (live sources: watched for stalls)
        self.capture_began = self.last_frame_at = 0.0
        self.stop = threading.Event()
        self.frames_in: LatestSlot | queue.Queue = LatestSlot() if spec.live else queue.Queue(maxsize=4)
        self.frames_out: queue.Queue = queue.Queue(maxsize=8)
        self.stats = {n: StageStats(n) for n in ("capture", "detect", "sinks")}
        self.classes: Counter = Counter()
        self.reconnects, self.error = 0, ""
        self.warnings: list[str] = []
        self.notices = NoticeQueue()
        self.failed_sinks: set[int] = set()

    # -- stages ---------------------------------------------------------------------------
    def _capture(self) -> None:
        backoff, index, lost_at, last_pts, sampled_pts = 0.5, 0, None, -1, None
        offset = 0  # added to the source's pts: a reopened stream restarts near 0, the output timeline must not
        try:
            while not self.stop.is_set():
                try:
                    self.capture_began = time.monotonic()
                    cap = GstCapture(self.spec, **self.capture_options).open()
                    self.capture = cap
                except CaptureError as exc:
                    first = index == 0 and lost_at is None
                    if not (self.reconnect and exc.transient) or (first and not self.retry_first_open):
                        raise
                    self._say(f"source unavailable: {exc}; retrying in {backoff:.1f} s")
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff, first_of_capture = 0.5, True
                try:
                    while not self.stop.is_set():
                        t0 = time.perf_counter()
                        frame = cap.read()
                        if frame is None:
                            if self.reconnect:
                                raise CaptureError(f"{self.spec.name}: stream ended")
                            self._check_complete(cap, last_pts, index)
                            return
                        if first_of_capture and lost_at is not None:
                            gap_ns = int((time.monotonic() - lost_at) * 1e9)
                            offset = last_pts + max(gap_ns, 1) - frame.pts_ns
                            self._notify("source_back", last_pts + max(gap_ns, 1), gap_s=round(gap_ns / 1e9, 3))
                            self._say(f"source back after a {gap_ns / 1e9:.1f} s gap")
                            self.reconnects += 1
                        first_of_capture = False
                        pts = max(frame.pts_ns + offset, last_pts + 1)
                        self.stats["capture"].add(time.perf_counter() - t0)
                        self.streaming, self.last_frame_at = True, time.monotonic()
                        if self.sample_ns and sampled_pts is not None and pts - sampled_pts < self.sample_ns:
                            last_pts = pts
                            continue
                        sampled_pts = pts
                        self._put(self.frames_in, dataclasses.replace(frame, index=index, pts_ns=pts))
                        last_pts, index = pts, index + 1
                        if self.max_frames and index >= self.max_frames:
                            return
                except CaptureError as exc:
                    if not self.reconnect:
                        if self.spec.kind == "file" and index > 0:
                            self._ended_early(index, last_pts, str(exc))
                            return
                        raise
                    lost_at, self.streaming = time.monotonic(), False
                    self._notify("source_lost", last_pts + 1, reason=str(exc))
                    self._say(f"source lost: {exc}; reconnecting")
                finally:
                    self.capture = None
                    cap.close()
        except Exception as exc:  # noqa: BLE001 - any failure ends the run with its message
            self._fail(exc)
        finally:
            self._put(self.frames_in, DONE, force=True)

    def _check_complete(self, cap: GstCapture, last_pts: int, frames: int) -> None:
        """A file that stops well before its stated duration was truncated: say so."""
        duration = cap.duration_ns
        if duration and frames and last_pts < duration - 2e9:
            self._ended_early(frames, last_pts, f"its header says {duration / 1e9:.1f} s")

    def _ended_early(self, frames: int, last_pts: int, why: str) -> None:
        text = (f"{self.spec.name} ended early: {frames} frames were decodable, up to {last_pts / 1e9:.2f} s "
                f"({why}); the file is probably truncated")  # fmt: skip
        self.warnings.append(text)
        self._notify("source_ended_early", last_pts + 1, frames=frames, reason=why)

    def _notify(self, kind: str, pts_ns: int, **fields) -> None:
        self.notices.put({"type": kind, "source": self.spec.name, "pts_ns": int(pts_ns),
                          "pts_s": round(pts_ns / 1e9, 6), "wall_time": time.time(), **fields})  # fmt: skip

    def _fail(self, exc: BaseException) -> None:
        """First failure wins: it becomes the run's error and stops every stage."""
        if not self.error:
            self.error = str(exc) if isinstance(exc, KestrelError) else f"{type(exc).__name__}: {exc}"
        self.stop.set()

    def _detect(self) -> None:
        try:
            while not (self.stop.is_set() and self.error):
                frame = self.frames_in.get()
                if frame is DONE:
                    if self.objects is not None:
                        last = getattr(self.objects, "last_pts_ns", 0)  # the last frame's exact pts
                        for record in self.objects.finish():
                            self.notices.put(record | {"pts_ns": last})
                    return
                t0 = time.perf_counter()
                dets = self.detector(frame.image)
                if self.objects is not None:
                    dets, records = self.objects.step(frame, dets)
                    for record in records:
                        self.notices.put(record | {"pts_ns": frame.pts_ns})
                self.classes.update(dets.labels)
                annotated = self.annotate(frame, dets, self) if self.annotate else None
                self.stats["detect"].add(time.perf_counter() - t0)
                self._put(self.frames_out, (frame, dets, annotated))
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
        finally:
            self._put(self.frames_out, DONE, force=True)

    def _sinks(self) -> None:
        while True:
            item = self.frames_out.get()
            if item is DONE:
                self._flush_notices(None)
                return
            self._flush_notices(item[0].pts_ns)
            t0 = time.perf_counter()
            for sink in self.live_sinks():
                try:
                    sink.write(*item)
                except Exception as exc:  # noqa: BLE001 - a failed sink stops the run; the others finish
                    self.failed_sinks.add(id(sink))
                    self._fail(exc)
            self.stats["sinks"].add(time.perf_counter() - t0)

    def live_sinks(self) -> list[Sink]:
        return [s for s in self.sinks if id(s) not in self.failed_sinks]

    def _flush_notices(self, up_to_pts: int | None) -> None:
        """Hand the notices up to ``up_to_pts`` (all: None) to the sinks, in pts order with the frames."""
        while (record := self.notices.pop(up_to_pts)) is not None:
            for sink in self.live_sinks():
                try:
                    sink.notice(record)
                except Exception as exc:  # noqa: BLE001
                    self.failed_sinks.add(id(sink))
                    self._fail(exc)

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

    def _watch_capture(self) -> None:
        """A live capture that delivers nothing for STALL_S (no frame, no error: GStreamer was seen to wedge this
        way) is torn down from here, so its reader wakes up and the reconnect logic opens a fresh one."""
        cap = self.capture
        if cap is None or not self.reconnect:
            return
        since = max(self.last_frame_at, self.capture_began)
        if time.monotonic() - since > STALL_S:
            self._say(f"no frame for {STALL_S:.0f} s and no error: restarting the capture")
            self.capture_began = time.monotonic()
            cap.close()

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
                self._watch_capture()
        finally:
            self.stop.set()
            deadline = time.monotonic() + 3.0
            for t in threads:
                t.join(timeout=max(deadline - time.monotonic(), 0.05))
            for sink in self.sinks:
                try:
                    sink.close()
                except Exception as exc:  # noqa: BLE001 - every other output is still finalised
                    self._fail(exc)
        return Summary(self.stats["sinks"].count, self.dropped, self.reconnects, self.classes,
                       list(self.stats.values()), time.monotonic() - start, self.error, self.warnings)  # fmt: skip
