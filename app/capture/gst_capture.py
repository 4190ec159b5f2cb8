"""Pull BGR frames with true timestamps out of a GStreamer pipeline (appsink).

Colour conversion (and optional scaling) happen inside GStreamer, after a queue that decouples the
decoder. Files apply back-pressure (appsink keeps a few buffers and blocks); live sources keep only
the newest buffer, so latency stays flat when the consumer is slower than the camera.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from detector.errors import KestrelError

from ..frame import Frame
from ..gst import gst, pop_error
from .redact import redact_text
from .spec import SourceSpec, source_element
from .stream_clock import StreamClock

# GStreamer loads a plugin the first time one of its elements is asked for; two threads building pipelines at
# once were seen to get "no element splitmuxsink" from that race. Pipelines are built one at a time.
_BUILD_LOCK = threading.Lock()


class CaptureError(KestrelError):
    """The source failed: not found, unsupported, unreachable, or dropped mid-stream.

    ``transient``: worth retrying on a live source (a network drop), as opposed to a source that can never
    work as given (a pipeline that does not parse, a missing element)."""

    def __init__(self, message: str, transient: bool = True) -> None:
        super().__init__(redact_text(message))
        self.transient = transient


def explain(spec: SourceSpec, message: str, debug: str) -> str:
    text = f"{message} {debug}".lower()
    name = spec.name
    if "not found" in text or "no such file" in text:
        return f"no such file: {name}"
    unsupported = ("missing a plug-in", "no suitable plugins", "could not determine type", "text file")
    if any(marker in text for marker in unsupported):
        return f"{name}: unsupported or unrecognised stream ({message})"
    if "no playable streams" in text:
        return (f"{name}: no playable video stream: the file is damaged, truncated (an MP4 cut off before its "
                "index), or holds no video")
    if "moov" in text or "incomplete" in text or "truncated" in text:
        return f"{name}: the file is damaged or truncated ({message})"
    if spec.kind == "rtsp" and ("could not open" in text or "connect" in text or "timeout" in text
                                or "unauthorized" in text):  # fmt: skip
        return f"cannot reach RTSP source {name} ({message})"
    if spec.kind == "v4l2":
        return f"camera {name} failed ({message})"
    return f"{name}: {message}"


class GstCapture:
    def __init__(self, spec: SourceSpec, width: int | None = None, height: int | None = None,
                 rtsp_tcp: bool = True, rtsp_latency_ms: int = 200, test_frames: int = -1,
                 open_timeout_s: float = 10.0, ring=None) -> None:  # fmt: skip
        """``ring``: a SegmentRing (app/service/clips.py) that keeps the source's own compressed stream in
        short MP4 segments, without re-encoding (RTSP sources)."""
        self.spec, self.open_timeout_s, self.ring = spec, open_timeout_s, ring
        Gst = gst()
        scale = f"videoscale ! video/x-raw,width={width},height={height} ! " if width and height else ""
        live = spec.live
        sink = (f"appsink name=frames sync=false emit-signals=false max-buffers={1 if live else 4} "
                f"drop={'true' if live else 'false'}")  # fmt: skip
        front = source_element(spec, rtsp_tcp, rtsp_latency_ms, test_frames)
        if ring is not None and spec.kind == "rtsp":  # the compressed stream, teed before decoding
            ring_queue = f"queue max-size-time={4 * Gst.SECOND} max-size-buffers=0 max-size-bytes=0 leaky=downstream"
            front = (f"{front.removesuffix(' ! decodebin')} ! parsebin ! tee name=t t. ! {ring_queue} ! "
                     f"{ring.element()} t. ! queue max-size-buffers=4 ! decodebin")  # fmt: skip
        description = f"{front} ! queue max-size-buffers=4 ! {scale}videoconvert ! video/x-raw,format=BGR ! {sink}"
        try:
            with _BUILD_LOCK:
                self.pipeline = Gst.parse_launch(description)
        except Exception as exc:  # GLib.Error: a missing element
            raise CaptureError(f"cannot build the capture pipeline for {spec.name}: {exc}", transient=False) from None
        self.sink = self.pipeline.get_by_name("frames")
        self.bus = self.pipeline.get_bus()
        self.index = 0
        self.first_pts: int | None = None
        self.clock = StreamClock()  # frames and recording segments map pts to wall time through it

    def open(self) -> GstCapture:
        """Start and wait for the first frame's caps (or an error) — never hang past the timeout."""
        Gst = gst()
        deadline = time.monotonic() + self.open_timeout_s
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._raise_pending("could not start")
        while time.monotonic() < deadline:
            sample = self.sink.emit("try-pull-preroll", 100 * Gst.MSECOND)
            if sample is not None:
                return self
            self._raise_pending(None)
        self.close()
        if self.spec.kind == "file":  # demuxers sometimes fail on a cut file without posting an error
            raise CaptureError(f"{self.spec.name}: no video frame within {self.open_timeout_s:.0f} s: the file is "
                               "damaged, truncated or holds no video")  # fmt: skip
        raise CaptureError(f"{self.spec.name}: no video within {self.open_timeout_s:.0f} s (no video stream, "
                           "or the source does not answer)")  # fmt: skip

    def seek(self, pts_ns: int) -> None:
        """Seek (after ``open``) to the keyframe at or before ``pts_ns``; the caller skips frames before it.

        Decoding forward from a keyframe gives the stream's own frames and timestamps; an ACCURATE seek
        was seen to emit a spurious frame with a made-up timestamp on an MP4 with an edit list.
        """
        Gst = gst()
        flags = Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT | Gst.SeekFlags.SNAP_BEFORE
        if not self.pipeline.seek_simple(Gst.Format.TIME, flags, max(int(pts_ns), 0)):
            raise CaptureError(f"{self.spec.name}: the source cannot seek")

    @property
    def duration_ns(self) -> int | None:
        ok, value = self.pipeline.query_duration(gst().Format.TIME)
        return int(value) if ok and value > 0 else None

    def _raise_pending(self, fallback: str | None) -> None:
        problem = pop_error(self.bus)
        if problem is None and fallback is None:
            return
        self.close()
        if problem is None:
            raise CaptureError(f"{self.spec.name}: {fallback}")
        message, debug = problem
        if message == "eos":
            raise CaptureError(f"{self.spec.name}: ended before the first frame (empty or not a video)")
        raise CaptureError(explain(self.spec, message, debug))

    def read(self, timeout_s: float = 5.0) -> Frame | None:
        """The next frame; None at end of stream. CaptureError on failure or a stall past ``timeout_s``."""
        Gst = gst()
        sample = self.sink.emit("try-pull-sample", int(timeout_s * Gst.SECOND))
        if sample is None:
            if self.sink.get_property("eos"):
                return None
            problem = pop_error(self.bus)
            if problem and problem[0] == "eos":
                return None
            if problem:
                raise CaptureError(explain(self.spec, *problem))
            raise CaptureError(f"{self.spec.name}: no frame for {timeout_s:.0f} s")
        frame = self._to_frame(sample)
        self.index += 1
        if self.ring is not None:
            self._drain_ring_messages(sample)
        return frame

    def _drain_ring_messages(self, sample) -> None:
        """Stamp each new segment with the wall time of its first frame on the stream's clock — its running
        time, back to the stream's pts through the appsink's segment, then through the clock the frames use —
        not the moment the message is read, which lags by up to a read interval and shifted clips by a GOP."""
        Gst = gst()
        while (msg := self.bus.pop_filtered(Gst.MessageType.ELEMENT)) is not None:
            structure = msg.get_structure()
            if structure is None or structure.get_name() != "splitmuxsink-fragment-opened":
                continue
            wall = time.time()
            ok, running_ns = structure.get_uint64("running-time")
            segment = sample.get_segment() if ok else None
            if segment is not None and self.clock.ready:
                pts_ns = segment.position_from_running_time(Gst.Format.TIME, running_ns)
                if pts_ns != Gst.CLOCK_TIME_NONE and pts_ns >= 0:
                    wall = self.clock.wall_of(pts_ns)
            self.ring.opened(structure.get_string("location"), wall)

    def _to_frame(self, sample) -> Frame:
        Gst = gst()
        caps = sample.get_caps().get_structure(0)
        w, h = caps.get_value("width"), caps.get_value("height")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            raise CaptureError(f"{self.spec.name}: cannot map a video buffer")
        try:
            data = np.frombuffer(info.data, np.uint8)
            stride = data.size // h
            image = data[: stride * h].reshape(h, stride)[:, : w * 3].reshape(h, w, 3).copy()
        finally:
            buf.unmap(info)
        if buf.pts == Gst.CLOCK_TIME_NONE:  # no timeline to map: the read time is all there is
            return Frame(image, 0, self.index, self.spec.name, time.time())
        return Frame(image, int(buf.pts), self.index, self.spec.name, self.clock.stamp(int(buf.pts), time.time()))

    def close(self) -> None:
        self.pipeline.set_state(gst().State.NULL)

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame
