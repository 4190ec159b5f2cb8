"""The side panel: source choice, model and detection controls, record/snapshot, stats, objects, event log."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..capture.devices import VideoDevice
from .transport import format_time


class SourcePanel(QGroupBox):
    cameraChosen = pyqtSignal(str)
    fileRequested = pyqtSignal()
    urlChosen = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self.cameras = QComboBox()
        self.cameras.setToolTip("Cameras found by GStreamer; the list follows plugging and unplugging")
        self.camera_button = QPushButton("Watch")
        self.file_button = QPushButton("Open file…")
        self.url = QComboBox()
        self.url.setEditable(True)
        self.url.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.url.lineEdit().setPlaceholderText("rtsp://user:pass@host/stream")
        self.url_button = QPushButton("Connect")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.cameras, 1)
        row.addWidget(self.camera_button)
        layout.addLayout(row)
        layout.addWidget(self.file_button)
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(self.url_button)
        layout.addLayout(row)
        self.camera_button.clicked.connect(self._camera)
        self.file_button.clicked.connect(self.fileRequested)
        self.url_button.clicked.connect(self._url)
        self.url.lineEdit().returnPressed.connect(self._url)
        self.set_cameras([])

    def set_cameras(self, devices: list[VideoDevice]) -> None:
        self.cameras.clear()
        for dev in devices:
            self.cameras.addItem(f"{dev.name} ({dev.path})" if dev.path else dev.name, dev.path)
        if not devices:
            self.cameras.addItem("no cameras found", "")
        self.camera_button.setEnabled(bool(devices))

    def set_history(self, urls: list[str]) -> None:
        current = self.url.currentText()
        self.url.clear()
        self.url.addItems(urls)
        self.url.setEditText(current)

    def _camera(self) -> None:
        if path := self.cameras.currentData():
            self.cameraChosen.emit(path)

    def _url(self) -> None:
        if text := self.url.currentText().strip():
            self.urlChosen.emit(text)


class DetectionPanel(QGroupBox):
    thresholdsChanged = pyqtSignal(float, float)  # conf, iou
    classesChanged = pyqtSignal(str)
    modelRequested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Detection", parent)
        self.model_label = QLabel("no model")
        self.model_label.setWordWrap(True)
        self.backend_label = QLabel("")
        self.model_button = QPushButton("Open model…")
        self.conf = _percent_slider(35)
        self.iou = _percent_slider(60)
        self.conf_value, self.iou_value = QLabel("0.35"), QLabel("0.60")
        self.classes = QLineEdit()
        self.classes.setPlaceholderText("all classes (e.g. person, car)")
        self.classes.setToolTip("Comma-separated class names; empty shows every class")
        form = QFormLayout(self)
        form.addRow("Model", self.model_label)
        form.addRow("Backend", self.backend_label)
        form.addRow(self.model_button)
        form.addRow("Confidence", _with_value(self.conf, self.conf_value))
        form.addRow("NMS IoU", _with_value(self.iou, self.iou_value))
        form.addRow("Classes", self.classes)
        self.conf.valueChanged.connect(self._thresholds)
        self.iou.valueChanged.connect(self._thresholds)
        self.classes.editingFinished.connect(lambda: self.classesChanged.emit(self.classes.text()))
        self.model_button.clicked.connect(self.modelRequested)

    def _thresholds(self) -> None:
        conf, iou = self.conf.value() / 100, self.iou.value() / 100
        self.conf_value.setText(f"{conf:.2f}")
        self.iou_value.setText(f"{iou:.2f}")
        self.thresholdsChanged.emit(conf, iou)

    def set_thresholds(self, conf: float, iou: float) -> None:
        self.conf.setValue(round(conf * 100))
        self.iou.setValue(round(iou * 100))

    def mark_classes(self, error: str) -> None:
        self.classes.setStyleSheet("QLineEdit { border: 1px solid #d33; }" if error else "")
        self.classes.setToolTip(error or "Comma-separated class names; empty shows every class")


class StatsPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stats", parent)
        self.form = QFormLayout(self)
        self.labels: dict[str, QLabel] = {}

    def show_stats(self, stats: dict[str, str]) -> None:
        for key, value in stats.items():
            if key not in self.labels:
                self.labels[key] = QLabel()
                self.labels[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.form.addRow(key, self.labels[key])
            self.labels[key].setText(value)


class EventLogView(QPlainTextEdit):
    """What was detected, one line when the set of objects changes, and what happened to the source."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 1000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.last_counts: dict[str, int] | None = None

    def add_counts(self, when: str, counts: dict[str, int]) -> None:
        if counts == self.last_counts:
            return
        self.last_counts = dict(counts)
        what = ", ".join(f"{name} x{n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "nothing"
        self.appendPlainText(f"{when}  {what}")

    def add_line(self, text: str) -> None:
        self.appendPlainText(text)


def _percent_slider(value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(1, 99)
    slider.setValue(value)
    return slider


def _with_value(slider: QSlider, label: QLabel) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(slider, 1)
    label.setMinimumWidth(32)
    row.addWidget(label)
    return box


class ObjectsPanel(QTableWidget):
    """The session's objects (from the tracker's events): id, label, first seen, duration, state. Clicking a row
    selects the object; the window seeks a file to its first frame."""

    objectChosen = pyqtSignal(int, float)  # id, first_pts_s
    COLUMNS = ("id", "label", "first seen", "duration", "state")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.rows: dict[int, int] = {}  # object id -> row
        self.first: dict[int, float] = {}
        self.whole_file = False  # showing a file's analysis rather than the live tracker's objects
        self.cellClicked.connect(self._clicked)

    def apply(self, event: dict) -> None:
        """Add or refresh the object an event (new, update, end) describes."""
        oid = int(event["id"])
        if oid not in self.rows:
            self.rows[oid] = self.rowCount()
            self.insertRow(self.rowCount())
        row = self.rows[oid]
        self.first[oid] = float(event["first_pts_s"])
        state = "" if self.whole_file else "gone" if event["type"] == "end" else "stationary" if event["stationary"] \
            else "moving"  # fmt: skip
        values = (str(oid), event["label"], format_time(event["first_pts_s"]),
                  f"{event['last_pts_s'] - event['first_pts_s']:.1f} s", state)  # fmt: skip
        for column, value in enumerate(values):
            self.setItem(row, column, QTableWidgetItem(value))

    def clear_objects(self) -> None:
        self.setRowCount(0)
        self.rows.clear()
        self.first.clear()
        self.whole_file = False

    def show_analysis(self, tracks: list[dict]) -> None:
        """The whole file's objects (its analysis), each with its snapshot; live events no longer apply."""
        self.clear_objects()
        self.whole_file = True
        self.setIconSize(QSize(48, 48))
        for t in sorted(tracks, key=lambda t: t["first_pts_s"]):
            self.apply({**t, "type": "end", "stationary": False})
            crop = (t.get("snapshot") or {}).get("crop")
            if crop and Path(crop).is_file():
                self.item(self.rows[int(t["id"])], 0).setIcon(QIcon(crop))
        self.resizeRowsToContents()

    def _clicked(self, row: int, _column: int) -> None:
        oid = next((i for i, r in self.rows.items() if r == row), None)
        if oid is not None:
            self.objectChosen.emit(oid, self.first[oid])
