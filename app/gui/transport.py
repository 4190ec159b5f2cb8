"""Replay controls under the video: play/pause, frame steps, seek slider with time, speed."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from .file_session import SPEEDS


def format_time(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


class TransportBar(QWidget):
    playToggled = pyqtSignal()
    stepped = pyqtSignal(int)
    seekRequested = pyqtSignal(float)  # seconds
    speedChanged = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration_s = 0.0
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play / pause (Space)")
        self.back_button = QPushButton("◀|")
        self.back_button.setToolTip("One frame back (Left)")
        self.forward_button = QPushButton("|▶")
        self.forward_button.setToolTip("One frame forward (Right)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Seek")
        self.time_label = QLabel(format_time(0) + " / " + format_time(0))
        self.speed_box = QComboBox()
        self.speed_box.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed ([ slower, ] faster)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(self.speed_box)
        self.play_button.clicked.connect(self.playToggled)
        self.back_button.clicked.connect(lambda: self.stepped.emit(-1))
        self.forward_button.clicked.connect(lambda: self.stepped.emit(1))
        self.slider.sliderReleased.connect(lambda: self.seekRequested.emit(self.slider.value() / 1000))
        self.slider.actionTriggered.connect(self._on_slider_action)
        self.speed_box.currentIndexChanged.connect(lambda i: self.speedChanged.emit(SPEEDS[i]))
        self.set_seekable(False)

    def _on_slider_action(self, action: int) -> None:
        # clicks on the groove and keyboard page/step moves seek at once; drags seek on release
        if not self.slider.isSliderDown():
            self.seekRequested.emit(self.slider.sliderPosition() / 1000)

    def set_seekable(self, seekable: bool, duration_s: float = 0.0) -> None:
        self.duration_s = duration_s
        self.slider.setRange(0, int(duration_s * 1000))
        for widget in (self.back_button, self.forward_button, self.slider, self.speed_box, self.play_button):
            widget.setEnabled(seekable)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")

    def set_position(self, seconds: float) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(int(seconds * 1000))
            self.slider.blockSignals(False)
        total = format_time(self.duration_s) if self.duration_s else "live"
        self.time_label.setText(f"{format_time(seconds)} / {total}")

    def change_speed(self, direction: int) -> None:
        index = min(max(self.speed_box.currentIndex() + direction, 0), len(SPEEDS) - 1)
        self.speed_box.setCurrentIndex(index)
