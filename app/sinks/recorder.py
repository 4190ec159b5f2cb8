"""Annotated recording, encoded by GStreamer (x264) into a container that survives a crash.

``.mkv`` (Matroska written as a live stream), ``.ts`` (MPEG-TS) and ``.mp4`` (fragmented, one-second
fragments) all decode up to the last written frame if the process is killed; a plain MP4 would
not, because its index is written at the end. The file is written in place, under the name asked for,
for the same reason: a killed run leaves a playable recording where the user looks for it.

A recording never blocks its caller for long: frames go into ``appsrc`` without its blocking mode, and the
writer waits for room itself while watching the bus, so a sink that fails (full disk, unwritable path,
an encoder that refuses the frame) is an error within a second, not a thread stuck forever.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from detector.errors import KestrelError

from ..gst import gst, pop_error
from .write_errors import describe_write_error

MUXERS = {
    ".mkv": "matroskamux streamable=true",
    ".ts": "mpegtsmux",
    ".mp4": "mp4mux fragment-duration=1000 streamable=true",
}
STALL_S = 10.0  # no room in the encoder's queue for this long, without an error: the recording has stalled


def check_container(path: Path) -> None:
    if path.suffix.lower() not in MUXERS:
        raise KestrelError(f"cannot record to '{path.name}': use .mkv, .ts or .mp4")


def encoder_element(fps: float, kbps: int) -> str:
    """x264 when present (gstreamer1.0-plugins-ugly), else openh264; tuned for low latency."""
    Gst = gst()
    keyint = max(int(round(fps)), 1)
    if Gst.ElementFactory.find("x264enc"):
        return f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={keyint} bitrate={kbps}"
    if Gst.ElementFactory.find("openh264enc"):
        return f"openh264enc gop-size={keyint} bitrate={kbps * 1000}"
    raise KestrelError("no H.264 encoder in GStreamer (install gstreamer1.0-plugins-ugly)")


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in 4:2:0 needs even dimensions: odd ones are padded by one pixel (the edge repeated)."""
    return width + width % 2, height + height % 2


class Recorder:
    def __init__(self, path: str | Path, width: int, height: int, fps: float, kbps: int = 4000) -> None:
        self.path = Path(path)
        check_container(self.path)
        if self.path.is_dir():
            raise KestrelError(f"cannot record to {self.path}: it is a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        Gst = gst()
        num, den = _fraction(fps)
        self.size, self.padded = (width, height), even_size(width, height)
        pw, ph = self.padded
        self.max_bytes = pw * ph * 3 * 8
        location = str(self.path).replace("\\", "\\\\").replace('"', '\\"')
        # unbuffered filesink: every muxed buffer reaches the OS at once, so a kill -9 loses almost nothing
        self.pipeline = Gst.parse_launch(
            f"appsrc name=src is-live=false format=time do-timestamp=false block=false "
            f"max-bytes={self.max_bytes} "
            f"caps=video/x-raw,format=BGR,width={pw},height={ph},framerate={num}/{den} ! videoconvert ! "
            "video/x-raw,format=I420 ! "
            f"{encoder_element(fps, kbps)} ! h264parse ! {MUXERS[self.path.suffix.lower()]} ! "
            f"filesink location=\"{location}\" sync=false buffer-mode=unbuffered"
        )
        self.src = self.pipeline.get_by_name("src")
        self.bus = self.pipeline.get_bus()
        self.frame_ns = int(1e9 * den / num)
        self.count, self.first_pts, self.failed = 0, None, ""
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._raise(pop_error(self.bus) or ("could not start", ""))

    def _raise(self, problem: tuple[str, str]) -> None:
        self.failed = describe_write_error(self.path, *problem)
        self.pipeline.set_state(gst().State.NULL)
        raise KestrelError(self.failed)

    def _check_bus(self) -> None:
        problem = pop_error(self.bus)
        if problem is not None and problem[0] != "eos":
            self._raise(problem)

    def write(self, image: np.ndarray, pts_ns: int) -> None:
        """Append one BGR frame; timestamps start at 0 and follow the source's pts."""
        Gst = gst()
        if self.failed:
            raise KestrelError(self.failed)
        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"frame {image.shape[1]}x{image.shape[0]} does not match the recording {self.size}")
        if self.padded != self.size:
            pad_w, pad_h = self.padded[0] - self.size[0], self.padded[1] - self.size[1]
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        self._wait_for_room()
        if self.first_pts is None:
            self.first_pts = pts_ns
        buf = Gst.Buffer.new_wrapped(np.ascontiguousarray(image).tobytes())
        buf.pts = max(pts_ns - self.first_pts, 0)
        buf.duration = self.frame_ns
        if self.src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            self._raise(pop_error(self.bus) or ("the encoder stopped accepting frames", ""))
        self.count += 1

    def _wait_for_room(self) -> None:
        """Back-pressure without appsrc's blocking mode, which never returns once the pipeline has failed."""
        deadline = time.monotonic() + STALL_S
        while self.src.get_property("current-level-bytes") >= self.max_bytes:
            self._check_bus()
            if time.monotonic() > deadline:
                self._raise((f"no progress for {STALL_S:.0f} s", ""))
            time.sleep(0.005)
        self._check_bus()

    def close(self, timeout_s: float = 3.0) -> None:
        """Finish the file properly (EOS through the muxer); a failed recording is only torn down."""
        Gst = gst()
        try:
            if not self.failed:
                self.src.emit("end-of-stream")
                problem = pop_error(self.bus, int(timeout_s * Gst.SECOND))
                if problem is not None and problem[0] != "eos":
                    self.failed = describe_write_error(self.path, *problem)
        finally:
            self.pipeline.set_state(Gst.State.NULL)
        if self.failed:
            raise KestrelError(self.failed)


def _fraction(fps: float) -> tuple[int, int]:
    if abs(fps - round(fps)) < 1e-3:
        return int(round(fps)), 1
    return int(round(fps * 1001)), 1001
