"""The analysed file's timeline, a strip under the seek slider: how many objects of each class were in view,
second by second, and a tick at each event worth a look (red: close approach, blue: line crossing, yellow: a
new pedestrian or cyclist, green: zones). Clicking seeks there."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

CLASS_COLOURS = {"person": "#f2c14e", "bicycle": "#f78154", "car": "#4d9de0", "truck": "#7768ae",
                 "bus": "#3bb273", "motorcycle": "#e15554"}  # fmt: skip
EVENT_COLOURS = {"close_approach": "#ff2d2d", "line_cross": "#2d8cff", "new": "#ffd400", "zone_enter": "#2dbf5a",
                 "loiter": "#2dbf5a", "occupancy_start": "#2dbf5a"}  # fmt: skip


class TimelineStrip(QWidget):
    seekRequested = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Objects in view over time and events; click to go there")
        self.duration_s, self.position_s, self.progress = 0.0, 0.0, None
        self.counts: dict[str, list[int]] = {}
        self.events: list[dict] = []

    def set_analysis(self, duration_s: float, counts: dict[str, list[int]], events: list[dict]) -> None:
        self.duration_s, self.counts, self.events, self.progress = max(duration_s, 1e-6), counts, events, None
        self.update()

    def set_progress(self, fraction: float | None) -> None:
        self.progress = fraction
        self.update()

    def clear(self) -> None:
        self.duration_s, self.counts, self.events, self.progress = 0.0, {}, [], None
        self.update()

    def set_position(self, seconds: float) -> None:
        self.position_s = seconds
        self.update()

    def x_of(self, seconds: float) -> float:
        return seconds / self.duration_s * self.width() if self.duration_s else 0.0

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.duration_s and event.button() == Qt.MouseButton.LeftButton:
            self.seekRequested.emit(max(event.position().x(), 0.0) / max(self.width(), 1) * self.duration_s)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QColor("#1e1e1e"))
        if self.progress is not None:
            p.fillRect(QRectF(0, h - 4, w * self.progress, 4), QColor("#5a9"))
            p.setPen(QColor("#ccc"))
            p.drawText(6, h - 10, f"analysing… {self.progress * 100:.0f} %")
        if self.counts and self.duration_s:
            seconds = max(len(v) for v in self.counts.values())
            peak = max(max(sum(v[s] for v in self.counts.values() if s < len(v)) for s in range(seconds)), 1)
            step = w / max(seconds, 1)
            for s in range(seconds):
                y = h
                for label, per_second in self.counts.items():
                    n = per_second[s] if s < len(per_second) else 0
                    if n:
                        bar = (h - 8) * n / peak
                        p.fillRect(QRectF(s * step, y - bar, max(step, 1.0), bar),
                                   QColor(CLASS_COLOURS.get(label, "#888")))  # fmt: skip
                        y -= bar
        for e in self.events:
            p.setPen(QPen(QColor(EVENT_COLOURS.get(e["type"], "#fff")), 2))
            x = self.x_of(e["pts_s"])
            p.drawLine(int(x), 0, int(x), 10 if e["type"] == "new" else h)
        if self.duration_s:
            p.setPen(QPen(QColor("#ffffff"), 1))
            x = int(self.x_of(self.position_s))
            p.drawLine(x, 0, x, h)
        p.end()
