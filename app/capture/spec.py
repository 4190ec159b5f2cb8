"""What a user types as a source, parsed: file, URI, RTSP, V4L2 camera or test pattern."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from detector.errors import KestrelError

from .redact import _split, redact

__all__ = ["SourceSpec", "redact", "source_element", "test_patterns"]


def test_patterns() -> tuple[str, ...]:
    """The pattern names GStreamer's videotestsrc accepts (``test:ball``, ``test:smpte``, ...)."""
    from ..gst import gst

    element = gst().ElementFactory.make("videotestsrc", None)
    if element is None:
        raise KestrelError("GStreamer's videotestsrc is missing (gstreamer1.0-plugins-base)")
    current = element.get_property("pattern")  # an enum value; its class lists them all
    return tuple(v.value_nick for v in type(current).__enum_values__.values())


def _check_url(text: str) -> None:
    scheme, _userinfo, rest, _tail = _split(text)
    host = rest.split("/", 1)[0]
    if not host or any(c.isspace() for c in text) or host.startswith(":"):
        raise KestrelError(f"malformed URL: {redact(text)} (expected a host after the scheme, e.g. "
                           "rtsp://camera.local:554/stream, with user:password and @ before the host if needed)")


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # file | uri | rtsp | v4l2 | test
    location: str
    live: bool

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        if text == "test" or text.startswith("test:"):
            pattern = text.partition(":")[2] or "ball"
            known = test_patterns()
            if pattern not in known:
                raise KestrelError(f"unknown test pattern '{pattern}' (known: {', '.join(known)})")
            return cls("test", pattern, True)
        if text.lower().startswith(("rtsp://", "rtsps://")):
            _check_url(text)
            return cls("rtsp", text, True)
        if text.startswith("v4l2:") or text.startswith("/dev/video"):
            return cls("v4l2", text.removeprefix("v4l2:"), True)
        if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
            if not text.lower().startswith("file://"):
                _check_url(text)
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
