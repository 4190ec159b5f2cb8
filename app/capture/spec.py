"""What a user types as a source, parsed: file, URI, RTSP, V4L2 camera or test pattern."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from detector.errors import KestrelError

CREDENTIALS = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<cred>[^@/]+)@", re.IGNORECASE)


def redact(location: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://***@host/x``: credentials never reach logs."""
    return CREDENTIALS.sub(r"\g<scheme>***@", location)


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # file | uri | rtsp | v4l2 | test
    location: str
    live: bool

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        if text == "test" or text.startswith("test:"):
            return cls("test", text.partition(":")[2] or "ball", True)
        if text.lower().startswith(("rtsp://", "rtsps://")):
            return cls("rtsp", text, True)
        if text.startswith("v4l2:") or text.startswith("/dev/video"):
            return cls("v4l2", text.removeprefix("v4l2:"), True)
        if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
            return cls("uri", text, text.lower().startswith(("udp://", "srt://")))
        path = Path(text)
        if not path.exists():
            raise KestrelError(f"no such file: {text}")
        if not path.is_file():
            raise KestrelError(f"not a file: {text}")
        return cls("file", str(path.resolve()), False)

    @property
    def name(self) -> str:
        return redact(self.location) if self.kind != "file" else Path(self.location).name


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_element(spec: SourceSpec, rtsp_tcp: bool = True, rtsp_latency_ms: int = 200,
                   test_frames: int = -1, test_size: tuple[int, int] = (640, 360)) -> str:  # fmt: skip
    """The front of a gst-launch description, ending in raw video of any format."""
    if spec.kind == "file":
        return f"filesrc location={_quote(spec.location)} ! decodebin"
    if spec.kind == "uri":
        return f"uridecodebin uri={_quote(spec.location)}"
    if spec.kind == "rtsp":
        protocols = "tcp" if rtsp_tcp else "udp"
        return (f"rtspsrc location={_quote(spec.location)} protocols={protocols} latency={rtsp_latency_ms} "
                "drop-on-latency=true ! decodebin")  # fmt: skip
    if spec.kind == "v4l2":
        return f"v4l2src device={_quote(spec.location)} ! decodebin"
    w, h = test_size
    return (f"videotestsrc pattern={spec.location} is-live=true num-buffers={test_frames} ! "
            f"video/x-raw,width={w},height={h},framerate=30/1")  # fmt: skip
