"""Cameras as they come and go: a Gst.DeviceMonitor whose bus a Qt timer reads on the GUI thread."""

from __future__ import annotations

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from ..capture.devices import VideoDevice, describe_device
from ..gst import gst


class CameraWatcher(QObject):
    changed = pyqtSignal(list)  # list[VideoDevice]

    def __init__(self, interval_ms: int = 500) -> None:
        super().__init__()
        Gst = gst()
        self.monitor = Gst.DeviceMonitor.new()
        self.monitor.add_filter("Video/Source", None)
        self.started = bool(self.monitor.start())
        self.devices: list[VideoDevice] = []
        if self.started:
            self.devices = [describe_device(d) for d in self.monitor.get_devices()]
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.timer.start(interval_ms)

    def poll(self) -> None:
        if not self.started:
            return
        Gst = gst()
        bus, dirty = self.monitor.get_bus(), False
        while bus.pop_filtered(Gst.MessageType.DEVICE_ADDED | Gst.MessageType.DEVICE_REMOVED) is not None:
            dirty = True
        if dirty:
            self.devices = [describe_device(d) for d in self.monitor.get_devices()]
            self.changed.emit(self.devices)

    def close(self) -> None:
        self.timer.stop()
        if self.started:
            self.monitor.stop()
            self.started = False
