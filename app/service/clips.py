"""Event clips without re-encoding: the camera's own compressed stream is kept in short MP4 segments (a
time-bounded ring, GStreamer's splitmuxsink, cut at keyframes), and each object's clip — ``pre_s`` before its
first frame to ``post_s`` after its last — is the run of segments covering that span, joined into one MP4
(splitmuxsrc -> mp4mux; no decoding). Segments split at keyframes, so a clip's ends are exact to one GOP."""

from __future__ import annotations

import bisect
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..frame import Frame
from ..gst import gst, pop_error, preload
from ..pipeline import Sink


class SegmentRing:
    """The segments of one camera, with the wall time each was opened; old ones are deleted."""

    def __init__(self, folder: Path, keep_s: float) -> None:
        preload("rtspsrc", "parsebin", "tee", "queue", "splitmuxsink", "mp4mux", "splitmuxsrc", "h264parse",
                "h264timestamper", "h265timestamper", "decodebin", "filesink")  # fmt: skip
        self.folder, self.keep_s = Path(folder), keep_s
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.segments: list[tuple[float, Path]] = []  # (opened at, file), in order
        self.captures = 0

    def element(self) -> str:
        """The splitmuxsink for one capture pipeline (each reconnect starts new file names)."""
        self.captures += 1
        pattern = str(self.folder / f"c{self.captures:04d}-%06d.mp4").replace('"', '\\"')
        return f'splitmuxsink location="{pattern}" max-size-time={gst().SECOND} muxer-factory=mp4mux'

    def opened(self, location: str, wall: float) -> None:
        with self.lock:
            self.segments.append((wall, Path(location)))

    def covering(self, start: float, end: float) -> list[Path]:
        """The closed segments overlapping [start, end] (wall clock), oldest first (the one being written,
        the newest, is never among them: its index is written when it closes)."""
        with self.lock:
            starts = [w for w, _ in self.segments]
            first = max(bisect.bisect_right(starts, start) - 1, 0)
            last = min(bisect.bisect_left(starts, end), len(self.segments) - 1)
            return [p for _, p in self.segments[first:last] if p.exists()]

    def newest_start(self) -> float:
        with self.lock:
            return self.segments[-1][0] if self.segments else 0.0

    def prune(self, now: float, keep_from: float | None = None) -> None:
        """Delete segments that ended more than ``keep_s`` ago (never one a pending clip needs)."""
        limit = now - self.keep_s if keep_from is None else min(now - self.keep_s, keep_from)
        with self.lock:
            while len(self.segments) > 1 and self.segments[1][0] < limit:
                _, path = self.segments.pop(0)
                path.unlink(missing_ok=True)


def join_segments(segments: list[Path], out: Path, timeout_s: float = 30.0) -> bool:
    """Concatenate MP4 segments into one playable MP4 without re-encoding."""
    Gst = gst()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as folder:
        for i, segment in enumerate(segments):
            try:
                os.link(segment, Path(folder) / f"{i:06d}.mp4")
            except OSError:
                shutil.copy(segment, Path(folder) / f"{i:06d}.mp4")
        partial = out.with_name(out.name + ".partial")
        pattern = f"{folder}/*.mp4".replace('"', '\\"')
        target = str(partial).replace('"', '\\"')
        # RTP-depayloaded streams can reach the muxer without PTS; the codec's timestamper rebuilds them (and
        # fails at once on another codec, so the next is tried)
        for timestamper in ("h264timestamper ! ", "h265timestamper ! ", ""):
            pipeline = Gst.parse_launch(f'splitmuxsrc location="{pattern}" ! parsebin ! {timestamper}mp4mux ! '
                                        f'filesink location="{target}"')  # fmt: skip
            pipeline.set_state(Gst.State.PLAYING)
            problem = pop_error(pipeline.get_bus(), int(timeout_s * Gst.SECOND))
            pipeline.set_state(Gst.State.NULL)
            if problem is not None and problem[0] == "eos" and partial.exists() and partial.stat().st_size:
                os.replace(partial, out)
                return True
            partial.unlink(missing_ok=True)
        return False


@dataclass
class _Pending:
    object_id: int
    start: float  # wall clock
    end: float | None = None


class ClipSink(Sink):
    """Cuts a clip per object from the camera's segment ring, ``post_s`` after the object ended."""

    def __init__(self, ring: SegmentRing, folder: Path, pre_s: float, post_s: float) -> None:
        self.ring, self.folder, self.pre_s, self.post_s = ring, Path(folder), pre_s, post_s
        self.clock: deque = deque(maxlen=600)  # (pts_ns, wall_s) of recent frames
        self.pending: dict[int, _Pending] = {}
        self.cut = 0  # clips written
        self.on_cut = None  # called with each clip's path (retention checks the quota at once)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kestrel-clips", daemon=True)
        self.thread.start()

    def path_for(self, object_id: int) -> Path:
        return self.folder / f"{object_id}.mp4"

    def write(self, frame: Frame, detections, annotated) -> None:
        if frame.wall_s:
            self.clock.append((frame.pts_ns, frame.wall_s))

    def _wall(self, pts_s: float) -> float:
        """The wall time of a source pts, from the nearest frame seen."""
        if not self.clock:
            return time.time()
        pts_ns = int(pts_s * 1e9)
        pts, wall = min(self.clock, key=lambda pw: abs(pw[0] - pts_ns))
        return wall + (pts_ns - pts) / 1e9

    def notice(self, record: dict) -> None:
        kind = record.get("type")
        with self.lock:
            if kind == "new":
                self.pending[record["id"]] = _Pending(record["id"], self._wall(record["first_pts_s"]) - self.pre_s)
            elif kind == "end" and record["id"] in self.pending:
                self.pending[record["id"]].end = self._wall(record["last_pts_s"]) + self.post_s

    def _run(self) -> None:
        while not self.stop_event.wait(0.5):
            self._cut_ready(time.time())

    def _cut_ready(self, now: float, closing: bool = False) -> None:
        with self.lock:
            newest = self.ring.newest_start()  # the segment holding p.end is closed once a later one opened
            ready = [p for p in self.pending.values() if p.end is not None and (closing or newest > p.end)]
            for p in ready:
                del self.pending[p.object_id]
            oldest = min((p.start for p in self.pending.values()), default=None)
        for p in ready:
            segments = self.ring.covering(p.start, p.end)
            if segments and join_segments(segments, self.path_for(p.object_id)):
                self.cut += 1
                if self.on_cut is not None:
                    self.on_cut(self.path_for(p.object_id))
        self.ring.prune(now, oldest)

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
        self._cut_ready(time.time(), closing=True)
