"""Annotated recording, encoded by GStreamer (x264) into a container that survives a crash.

``.mkv`` (Matroska written as a live stream), ``.ts`` (MPEG-TS) and ``.mp4`` (fragmented, one-second
fragments) all decode up to the last written frame if the process is killed; a plain MP4 would
not, because its index is written at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.errors import KestrelError

from ..gst import gst, pop_error

MUXERS = {
    ".mkv": "matroskamux streamable=true",
    ".ts": "mpegtsmux",
    ".mp4": "mp4mux fragment-duration=1000 streamable=true",
}


def encoder_element(fps: float, kbps: int) -> str:
    """x264 when present (gstreamer1.0-plugins-ugly), else openh264; tuned for low latency."""
    Gst = gst()
    keyint = max(int(round(fps)), 1)
    if Gst.ElementFactory.find("x264enc"):
        return f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={keyint} bitrate={kbps}"
    if Gst.ElementFactory.find("openh264enc"):
        return f"openh264enc gop-size={keyint} bitrate={kbps * 1000}"
    raise KestrelError("no H.264 encoder in GStreamer (install gstreamer1.0-plugins-ugly)")


class Recorder:
    def __init__(self, path: str | Path, width: int, height: int, fps: float, kbps: int = 4000) -> None:
        self.path = Path(path)
        mux = MUXERS.get(self.path.suffix.lower())
        if mux is None:
            raise KestrelError(f"cannot record to '{self.path.suffix}': use .mkv, .ts or .mp4")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        Gst = gst()
        num, den = _fraction(fps)
        location = str(self.path).replace("\\", "\\\\").replace('"', '\\"')
        # unbuffered filesink: every muxed buffer reaches the OS at once, so a kill -9 loses almost nothing
        self.pipeline = Gst.parse_launch(
            f"appsrc name=src is-live=false format=time do-timestamp=false block=true "
            f"max-bytes={width * height * 3 * 8} "
            f"caps=video/x-raw,format=BGR,width={width},height={height},framerate={num}/{den} ! videoconvert ! "
            "video/x-raw,format=I420 ! "
            f"{encoder_element(fps, kbps)} ! h264parse ! {mux} ! "
            f"filesink location=\"{location}\" sync=false buffer-mode=unbuffered"
        )
        self.src = self.pipeline.get_by_name("src")
        self.size, self.frame_ns = (width, height), int(1e9 * den / num)
        self.count, self.first_pts = 0, None
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise KestrelError(f"cannot start recording to {self.path}")

    def write(self, image: np.ndarray, pts_ns: int) -> None:
        """Append one BGR frame; timestamps start at 0 and follow the source's pts."""
        Gst = gst()
        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"frame {image.shape[1]}x{image.shape[0]} does not match the recording {self.size}")
        if self.first_pts is None:
            self.first_pts = pts_ns
        buf = Gst.Buffer.new_wrapped(np.ascontiguousarray(image).tobytes())
        buf.pts = max(pts_ns - self.first_pts, 0)
        buf.duration = self.frame_ns
        if self.src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            problem = pop_error(self.pipeline.get_bus())
            raise KestrelError(f"recording to {self.path} failed: {problem[0] if problem else 'flow error'}")
        self.count += 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the file properly (EOS through the muxer)."""
        Gst = gst()
        self.src.emit("end-of-stream")
        pop_error(self.pipeline.get_bus(), int(timeout_s * Gst.SECOND))
        self.pipeline.set_state(Gst.State.NULL)


def _fraction(fps: float) -> tuple[int, int]:
    if abs(fps - round(fps)) < 1e-3:
        return int(round(fps)), 1
    return int(round(fps * 1001)), 1001
