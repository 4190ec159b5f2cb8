"""The video view: the annotated frame, scaled to fit with its aspect ratio kept, centred on black."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRect, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget


def to_qimage(image: np.ndarray) -> QImage:
    """HxWx3 BGR uint8 -> a QImage that owns its pixels."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888).copy()


def fit_rect(image_w: int, image_h: int, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect ratio centred in ``area``."""
    if image_w <= 0 or image_h <= 0:
        return QRect(area)
    scale = min(area.width() / image_w, area.height() / image_h)
    w, h = max(int(image_w * scale), 1), max(int(image_h * scale), 1)
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


class VideoView(QWidget):
    """Mouse presses, drags and releases on the frame are reported in frame pixels (the rules editor draws
    with them); ``sketch`` is a polyline in frame pixels drawn over the frame (a shape being drawn)."""

    pressed = pyqtSignal(float, float)
    dragged = pyqtSignal(float, float)
    released = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.sketch: list[tuple[float, float]] = []
        self.placeholder = "Open a file, a camera or an RTSP stream"
        self.painted = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def show_frame(self, image: np.ndarray) -> None:
        self.image = to_qimage(image)
        self.update()

    def clear(self, message: str = "") -> None:
        self.image = None
        self.placeholder = message or self.placeholder
        self.update()

    def image_rect(self) -> QRect:
        """Where the frame is drawn, in widget coordinates."""
        if self.image is None:
            return QRect()
        return fit_rect(self.image.width(), self.image.height(), self.rect())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self.image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self.image)
            self.painted += 1
            if self.sketch:
                painter.setPen(QPen(QColor(255, 0, 255), 2))
                points = [self.to_widget(x, y) for x, y in self.sketch]
                for a, b in zip(points, points[1:], strict=False):
                    painter.drawLine(a, b)
                for point in points:
                    painter.drawEllipse(point, 4, 4)
        painter.end()

    # -- frame <-> widget coordinates, for the rules editor -------------------------------------------------
    def to_frame(self, x: float, y: float) -> tuple[float, float] | None:
        r = self.image_rect()
        if self.image is None or not r.width() or not r.contains(int(x), int(y)):
            return None
        scale = self.image.width() / r.width()
        return (x - r.x()) * scale, (y - r.y()) * scale

    def to_widget(self, x: float, y: float) -> QPointF:
        r = self.image_rect()
        scale = r.width() / max(self.image.width(), 1)
        return QPointF(r.x() + x * scale, r.y() + y * scale)

    def _emit(self, signal, event) -> None:
        point = self.to_frame(event.position().x(), event.position().y())
        if point is not None:
            signal.emit(*point)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._emit(self.pressed, event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._emit(self.dragged, event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._emit(self.released, event)
