"""A video file played in its own thread: play/pause, frame steps both ways, seek, speed. No Qt here.

Every move is frame-exact and shows the stream's own frames and timestamps: a seek or a step back
goes to the keyframe before the target and decodes forward (as ``kestrel replay`` does). At a speed
the model cannot keep up with, frames are decoded but not shown (counted as skipped) so the clock
holds — unless recording, which keeps every frame.
"""

from __future__ import annotations

import queue
import time

from ..capture.gst_capture import CaptureError, GstCapture
from ..capture.spec import SourceSpec
from ..frame import Frame
from ..replay import _fps
from .processor import FrameProcessor
from .session import Session, SessionEvents

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class FileSession(Session):
    seekable = True

    def __init__(self, spec: SourceSpec, processor: FrameProcessor, events: SessionEvents,
                 autoplay: bool = True) -> None:  # fmt: skip
        super().__init__(spec, processor, events)
        self.commands: queue.Queue = queue.Queue()
        self.cap: GstCapture | None = None
        self.current: Frame | None = None
        self.readahead: list[Frame] = []
        self.playing, self.speed, self.autoplay = False, 1.0, autoplay
        self.fps, self.duration_s, self.skipped = 30.0, 0.0, 0
        self.anchor: tuple[int, float] | None = None  # (pts, monotonic) the pacing clock started at
        self.unshown = False  # ``current`` was decoded but skipped to keep time: the view shows an older frame

    # -- commands (any thread) ------------------------------------------------------------
    def play(self) -> None:
        self.commands.put(("play", None))

    def pause(self) -> None:
        self.commands.put(("pause", None))

    def toggle(self) -> None:
        self.commands.put(("toggle", None))

    def step(self, frames: int) -> None:
        self.commands.put(("step", frames))

    def seek(self, seconds: float) -> None:
        self.commands.put(("seek", seconds))

    def set_speed(self, speed: float) -> None:
        self.commands.put(("speed", speed))

    def refresh(self) -> None:
        self.commands.put(("refresh", None))

    def _interrupt(self) -> None:
        self.commands.put(("wake", None))

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        self.cap = GstCapture(self.spec).open()
        try:
            self.fps, self.duration_s = _fps(self.cap), (self.cap.duration_ns or 0) / 1e9
            self.events.state("opened", {"duration_s": self.duration_s, "fps": self.fps, "seekable": True})
            first = self._next()
            if first is None:
                raise CaptureError(f"{self.spec.name}: no frames")
            self._show(first)
            self._set_playing(self.autoplay)
            while not self.stop_event.is_set():
                try:
                    command = self.commands.get(timeout=0.0 if self.playing else 0.1)
                except queue.Empty:
                    command = None
                if command is not None:
                    self._handle(*command)
                elif self.playing:
                    self._advance()
        finally:
            self.cap.close()

    def _handle(self, name: str, arg) -> None:
        if name == "play" or (name == "toggle" and not self.playing):
            if self.current is not None and not self.readahead and self._at_end():
                self._seek(0.0)
            self._set_playing(True)
        elif name in ("pause", "toggle"):
            self._set_playing(False)
        elif name == "step":
            self._set_playing(False)
            for _ in range(abs(int(arg))):
                frame = self._next() if arg > 0 else self._previous()
                if frame is None:
                    break
                self._show(frame)
        elif name == "seek":
            self._seek(float(arg))
        elif name == "speed":
            self.speed = min(max(float(arg), SPEEDS[0]), SPEEDS[-1])
            self.anchor = None
            self.events.state("speed", {"speed": self.speed})
        elif name == "refresh" and (result := self.processor.redo()) is not None:
            self.events.frame(result)

    def _advance(self) -> None:
        frame = self._next()
        if frame is None:
            self._set_playing(False)
            self.events.state("ended", {})
            return
        if self.anchor is None:
            self.anchor = (frame.pts_ns, time.monotonic())
        due = self.anchor[1] + (frame.pts_ns - self.anchor[0]) / 1e9 / self.speed
        wait = due - time.monotonic()
        if wait > 0:
            try:  # sleep, but answer a command at once
                command = self.commands.get(timeout=wait)
            except queue.Empty:
                command = None
            if command is not None:
                self.readahead.insert(0, frame)
                self._handle(*command)
                return
        elif -wait > 1.0 / self.fps and not self.processor.recorder.active:
            self.skipped += 1  # behind the clock by more than a frame: keep time, skip showing this one
            self.current, self.unshown = frame, True
            return
        self._show(frame)

    # -- positioning ----------------------------------------------------------------------
    def _next(self) -> Frame | None:
        return self.readahead.pop(0) if self.readahead else self.cap.read()

    def _show(self, frame: Frame) -> None:
        self.current, self.unshown = frame, False
        self.events.frame(self.processor.process(frame))

    def _set_playing(self, playing: bool) -> None:
        self.playing, self.anchor = playing, None
        if not playing and self.unshown and self.current is not None:
            self._show(self.current)  # paused on a skipped frame: show it, so steps go from what is on screen
        self.events.state("playing" if playing else "paused", {})

    def _at_end(self) -> bool:
        frame = self.cap.read(timeout_s=2.0)
        if frame is None:
            return True
        self.readahead.append(frame)
        return False

    def _seek(self, seconds: float) -> None:
        """Show the first frame at or after ``seconds`` (clamped to the clip)."""
        target = int(round(min(max(seconds, 0.0), max(self.duration_s - 0.5 / self.fps, 0.0)) * 1e9))
        self.cap.seek(target)
        self.readahead.clear()
        last = None
        while (frame := self.cap.read()) is not None:
            last = frame
            if frame.pts_ns >= target:
                break
        if last is not None:
            self._show(last)
        self.anchor = None

    def _previous(self) -> Frame | None:
        """The frame before the current one: decode forward from an earlier keyframe."""
        if self.current is None:
            return None
        current_pts, back_ns = self.current.pts_ns, 1
        while True:
            start = max(current_pts - back_ns, 0)
            self.cap.seek(start)
            previous, frame = None, None
            while (frame := self.cap.read()) is not None and frame.pts_ns < current_pts:
                previous = frame
            self.readahead = [frame] if frame is not None else []
            if previous is not None or start == 0:
                return previous
            back_ns = max(back_ns * 4, 500_000_000)

    def stats(self) -> dict[str, str]:
        return {"detect": f"{self.processor.latency_ms:.1f} ms", "speed": f"{self.speed:g}x",
                "skipped": str(self.skipped)}  # fmt: skip
