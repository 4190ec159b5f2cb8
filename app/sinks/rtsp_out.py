"""Annotated RTSP re-stream on 127.0.0.1 (GstRtspServer): rtsp://127.0.0.1:PORT/kestrel.

Every connected client shares one encoder fed by an appsrc; frames arrive with the stream's own
running time. The server's GLib main loop runs in a daemon thread.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from detector.detections import Detections
from detector.errors import KestrelError

from ..frame import Frame
from ..gst import gst
from ..pipeline import Sink


class RtspOutSink(Sink):
    wants_annotated = True

    def __init__(self, port: int, mount: str = "/kestrel", address: str = "127.0.0.1") -> None:
        import gi

        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, GstRtspServer

        Gst = gst()
        self.Gst, self.size, self.appsrc, self.start = Gst, None, None, None
        self.lock = threading.Lock()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(address)
        self.server.set_service(str(port))
        self.factory = GstRtspServer.RTSPMediaFactory()
        self.factory.set_shared(True)
        self.factory.connect("media-configure", self._on_configure)
        self.server.get_mount_points().add_factory(mount, self.factory)
        self.context = GLib.MainContext()
        if self.server.attach(self.context) == 0:
            raise KestrelError(f"cannot serve RTSP on {address}:{port} (port in use?)")
        self.loop = GLib.MainLoop.new(self.context, False)
        threading.Thread(target=self.loop.run, name="rtsp-out", daemon=True).start()
        self.url = f"rtsp://{address}:{port}{mount}"
        self.frames = 0

    def _on_configure(self, factory, media) -> None:
        with self.lock:
            self.appsrc = media.get_element().get_by_name("src")
            self.start = None

    def write(self, frame: Frame, detections: Detections, annotated) -> None:
        image = annotated if annotated is not None else frame.image
        if self.size is None:
            h, w = image.shape[:2]
            self.size = (w, h)
            self.factory.set_launch(
                f"( appsrc name=src is-live=true format=time do-timestamp=false "
                f"caps=video/x-raw,format=BGR,width={w},height={h},framerate=30/1 ! videoconvert ! "
                "video/x-raw,format=I420 ! "
                "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 )"
            )
        with self.lock:
            src = self.appsrc
            if src is None:
                return  # nobody watching yet
            now = time.monotonic_ns()
            self.start = self.start or now
        buf = self.Gst.Buffer.new_wrapped(np.ascontiguousarray(image).tobytes())
        buf.pts = now - self.start
        src.emit("push-buffer", buf)
        self.frames += 1

    def close(self) -> None:
        with self.lock:
            if self.appsrc is not None:
                self.appsrc.emit("end-of-stream")
        self.loop.quit()
