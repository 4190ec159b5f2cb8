"""Video capture devices through Gst.DeviceMonitor (V4L2 cameras and whatever else GStreamer finds)."""

from __future__ import annotations

from dataclasses import dataclass

from ..gst import gst


@dataclass(frozen=True)
class VideoDevice:
    name: str
    path: str  # what `kestrel run` takes, e.g. /dev/video0
    caps: str  # a short summary of the formats it offers


def list_video_devices() -> list[VideoDevice]:
    Gst = gst()
    monitor = Gst.DeviceMonitor.new()
    monitor.add_filter("Video/Source", None)
    if not monitor.start():
        return []
    try:
        return [describe_device(dev) for dev in monitor.get_devices()]
    finally:
        monitor.stop()


def describe_device(dev) -> VideoDevice:
    """A Gst.Device as the name, the path `kestrel run` takes, and a short caps summary."""
    props = dev.get_properties()
    path = (props.get_string("device.path") or props.get_string("api.v4l2.path") or "") if props else ""
    caps = dev.get_caps()
    summary = caps.to_string()[:120] if caps is not None else ""
    return VideoDevice(dev.get_display_name(), path, summary)
