"""GStreamer, initialised once, with a clear error when the bindings are missing."""

from __future__ import annotations

from functools import cache

from detector.errors import KestrelError


@cache
def gst():
    # GStreamer links libunwind, whose _Unwind_* symbols then win over libgcc_s for every C++ library
    # loaded later: ONNX Runtime's exceptions stop unwinding and a malformed model aborts the process
    # instead of raising. Loading ONNX Runtime first keeps its exceptions on libgcc_s.
    import onnxruntime  # noqa: F401

    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:
        raise KestrelError(
            f"GStreamer's Python bindings are missing ({exc}); on Debian: apt-get install python3-gst-1.0 "
            "gstreamer1.0-plugins-{base,good,bad,ugly} gstreamer1.0-libav, then pip install PyGObject==3.50.2"
        ) from None
    Gst.init(None)
    return Gst


def pop_error(bus, timeout_ns: int = 0) -> tuple[str, str] | None:
    """(message, debug) of the next ERROR on the bus, or ("eos", "") at end of stream, or None."""
    Gst = gst()
    msg = bus.timed_pop_filtered(timeout_ns, Gst.MessageType.ERROR | Gst.MessageType.EOS)
    if msg is None:
        return None
    if msg.type == Gst.MessageType.EOS:
        return ("eos", "")
    err, debug = msg.parse_error()
    return (err.message, debug or "")


def preload(*names: str) -> None:
    """Load the plugins of these elements now, on this thread: GStreamer loads a plugin on first use, and two
    pipelines built at once on other threads were seen to race there ("no element splitmuxsink")."""
    Gst = gst()
    for name in names:
        factory = Gst.ElementFactory.find(name)
        if factory is not None:
            factory.load()


# the plugins a live camera's capture and recording use, elements and the parts they load while running:
# rtspsrc's RTP machinery, decodebin's parsers and decoders, the ring's muxers
CAPTURE_PLUGINS = ("coreelements", "rtsp", "rtp", "rtpmanager", "udp", "tcp", "playback", "typefindfunctions",
                   "videoparsersbad", "libav", "videoconvertscale", "videoconvert", "videoscale", "app",
                   "isomp4", "multifile", "codectimestamper")  # fmt: skip


def preload_capture() -> None:
    """Load every plugin live captures use, now, before any pipeline runs: a plugin loaded by one camera's
    running pipeline (decodebin picking a decoder) while another camera's pipeline was being built was seen to
    make the build fail ("no element rtspsrc")."""
    Gst = gst()
    for name in CAPTURE_PLUGINS:
        Gst.Plugin.load_by_name(name)  # None where this GStreamer lacks it (names differ across versions)
    preload("rtspsrc", "rtph264depay", "rtph265depay", "h264parse", "h265parse", "parsebin", "decodebin",
            "avdec_h264", "avdec_h265", "videoconvert", "videoscale", "appsink", "queue", "tee", "splitmuxsink",
            "splitmuxsrc", "mp4mux", "h264timestamper", "h265timestamper", "filesink")  # fmt: skip
