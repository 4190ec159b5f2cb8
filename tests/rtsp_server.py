"""A real RTSP server on 127.0.0.1 (GstRtspServer) for tests and benchmarks:

    python -m tests.rtsp_server PORT            a live test pattern, H.264, at rtsp://127.0.0.1:PORT/stream
    python -m tests.rtsp_server PORT CLIP.mp4   CLIP's own H.264 stream looped forever, without re-encoding

The clip is demuxed once into memory (its access units and timestamps) and pushed again and again through
appsrc with timestamps that keep growing, as a camera's would: a looping camera costs almost no CPU, so a
benchmark measures the service, not the server. Prints "ready" when serving; runs until killed.
"""

from __future__ import annotations

import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PATTERN = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
           "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )")  # fmt: skip


def read_access_units(path: str) -> tuple[list[tuple[bytes, int, int, bool]], int]:
    """The clip's H.264 access units (bytes, pts ns, dts ns, keyframe) in decoding order, byte-stream form, and
    the frame interval. Streams with B-frames keep their reordering: pts and dts both travel."""
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    pipeline = Gst.parse_launch(
        f'filesrc location="{location}" ! parsebin ! h264parse config-interval=-1 ! '
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units = []
    while (sample := sink.emit("pull-sample")) is not None:
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        dts = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else buf.pts
        units.append((bytes(info.data), buf.pts, dts, not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
        buf.unmap(info)
    pipeline.set_state(Gst.State.NULL)
    if not units:
        raise SystemExit(f"{path}: no H.264 video")
    base = units[0][2]
    units = [(data, pts - base, dts - base, key) for data, pts, dts, key in units]
    interval = units[1][2] - units[0][2] if len(units) > 1 else 33_333_333
    return units, interval


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, units, interval: int) -> None:
        super().__init__()
        self.units, self.interval = units, interval
        self.set_launch("( appsrc name=src is-live=true format=time do-timestamp=false "
                        "caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! "
                        "rtph264pay name=pay0 pt=96 config-interval=1 )")  # fmt: skip
        self.connect("media-configure", self._configure)

    def _configure(self, factory, media) -> None:
        src = media.get_element().get_child_by_name("src")
        stop = threading.Event()
        media.connect("unprepared", lambda *_: stop.set())
        threading.Thread(target=self._feed, args=(src, stop), daemon=True).start()

    def _feed(self, src, stop: threading.Event) -> None:
        """Push the clip forever, paced to real time, timestamps continuing across loops."""
        clock = Gst.SystemClock.obtain()
        start = clock.get_time()
        loop_length = self.units[-1][2] + self.interval
        loop, lead = 0, max(max(pts - dts for _, pts, dts, _ in self.units), 0)  # pts may run ahead of dts
        while not stop.is_set():
            for data, pts, dts, key in self.units:
                offset = loop * loop_length + lead
                wait = start + offset + dts - clock.get_time()
                if wait > 0:
                    stop.wait(wait / 1e9)
                if stop.is_set():
                    return
                buf = Gst.Buffer.new_wrapped(data)
                buf.pts, buf.dts = offset + pts, offset + dts
                buf.duration = self.interval
                if not key:
                    buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
                if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                    return
            loop += 1


def main() -> None:
    port = sys.argv[1]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    if len(sys.argv) > 2:
        factory = LoopingFactory(*read_access_units(sys.argv[2]))
    else:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(PATTERN)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/stream", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
