"""Kestrel's main window: the video with its overlay, replay controls, source/model/detection panels,
record and snapshot, stats and an event log. Inference runs in the session's worker thread; this
thread only paints, so a slow model never freezes the window."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from detector.backends.triton_backend import is_triton_url
from detector.detector import Detector
from detector.errors import KestrelError

from ..capture.redact import redact_text, strip_secrets
from ..capture.spec import SourceSpec
from ..commands.run_cmd import LABEL_IOU
from .bridge import SessionBridge
from .file_session import FileSession
from .history import history, remember
from .live_session import LiveSession
from .panels import DetectionPanel, EventLogView, ObjectsPanel, SourcePanel, StatsPanel
from .processor import FrameProcessor, ViewResult
from .review import Review
from .rules_editor import RulesEditor
from .session import Session
from .transport import TransportBar, format_time
from .video_view import VideoView

VIDEO_FILTER = "Videos (*.mp4 *.mkv *.avi *.mov *.ts *.webm *.m4v);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings, model: Path | None = None, output_dir: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.output_dir = output_dir or Path(settings.value("output_dir", str(Path.cwd() / "kestrel-output")))
        self.session_urls: dict[str, str] = {}  # stored (secret-free) URL -> the URL typed this session
        self.session: Session | None = None
        self.bridge: SessionBridge | None = None
        self.processor: FrameProcessor | None = None
        self.detector: Detector | None = None
        self.current: ViewResult | None = None
        self.last_error = ""
        self.shown_frames = 0
        self.setWindowTitle("Kestrel")
        self._build()
        self._restore()
        self.cameras = None
        self._start_camera_watcher()
        self.stats_timer = QTimer(self)
        self.stats_timer.timeout.connect(self._update_stats)
        self.stats_timer.start(500)
        model = model or (v if is_triton_url(v := settings.value("model", "")) else Path(v) if v else None)
        if model is not None:
            self.load_model(model)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.view = VideoView()
        self.transport = TransportBar()
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.view, 1)
        column.addWidget(self.transport)
        self.review = Review(self.settings, self)  # a file's analysis: timeline, event navigation, its objects
        column.addWidget(self.review.bar)
        self.setCentralWidget(centre)
        self.source_panel, self.detection_panel = SourcePanel(), DetectionPanel()
        self.stats_panel, self.event_log = StatsPanel(), EventLogView()
        self.objects_panel = ObjectsPanel()
        self.rules_editor = RulesEditor(self.view)
        self.rules_editor.rulesChanged.connect(self.set_rules)
        self.rules_editor.error.connect(self.show_error)
        self.selected_object: int | None = None
        self.record_button, self.snapshot_button = QPushButton("Record"), QPushButton("Snapshot")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the annotated video (Ctrl+R)")
        self.snapshot_button.setToolTip("Save the current frame with its overlay as PNG (Ctrl+S)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.snapshot_button)
        side = QWidget()
        panel = QVBoxLayout(side)
        for widget in (self.source_panel, self.detection_panel):
            panel.addWidget(widget)
        panel.addLayout(buttons)
        panel.addWidget(self.rules_editor)
        panel.addWidget(self.stats_panel)
        lists = QTabWidget()  # the objects and the event log share the space below the stats
        lists.addTab(self.objects_panel, "Objects")
        lists.addTab(self.event_log, "Event log")
        panel.addWidget(lists, 1)
        dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setWidget(side)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.transport.playToggled.connect(lambda: self._command("toggle"))
        self.transport.stepped.connect(lambda n: self._command("step", n))
        self.transport.seekRequested.connect(lambda s: self._command("seek", s))
        self.objects_panel.objectChosen.connect(self.choose_object)
        self.review.seekRequested.connect(lambda s: self._command("seek", s))
        self.review.analysed.connect(lambda a: self.objects_panel.show_analysis(a.tracks))
        self.review.message.connect(self.statusBar().showMessage)
        self.review.output_dir = self.output_dir
        self.transport.speedChanged.connect(lambda x: self._command("set_speed", x))
        self.source_panel.cameraChosen.connect(self.open_source)
        self.source_panel.urlChosen.connect(self.open_source)
        self.source_panel.fileRequested.connect(self._choose_file)
        self.detection_panel.thresholdsChanged.connect(self.set_thresholds)
        self.detection_panel.classesChanged.connect(self.set_classes)
        self.detection_panel.modelRequested.connect(self._choose_model)
        self.record_button.toggled.connect(self._record_toggled)
        self.snapshot_button.clicked.connect(lambda: self.snapshot())
        shortcuts = {
            "Space": lambda: self._command("toggle"), "Right": lambda: self._command("step", 1),
            "Left": lambda: self._command("step", -1), "[": lambda: self.transport.change_speed(-1),
            "]": lambda: self.transport.change_speed(1), "Ctrl+O": self._choose_file,
            "Ctrl+R": self.record_button.toggle, "Ctrl+S": lambda: self.snapshot(),
            "N": lambda: self.review.jump(1), "P": lambda: self.review.jump(-1),
        }  # fmt: skip
        for keys, handler in shortcuts.items():
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(handler)
            self.addAction(action)
        self.statusBar().showMessage("Ready")

    def _restore(self) -> None:
        s = self.settings
        if geometry := s.value("geometry"):
            self.restoreGeometry(geometry)
        if state := s.value("window_state"):
            self.restoreState(state)
        self.detection_panel.set_thresholds(float(s.value("conf", 0.35)), float(s.value("iou", 0.6)))
        self.detection_panel.classes.setText(str(s.value("classes", "")))
        self.source_panel.set_history(history(self.settings, "rtsp_history"))

    def _start_camera_watcher(self) -> None:
        try:
            from .cameras import CameraWatcher

            self.cameras = CameraWatcher()
            self.cameras.changed.connect(self.source_panel.set_cameras)
            self.source_panel.set_cameras(self.cameras.devices)
        except KestrelError as exc:  # no GStreamer: files still need it, so say so once
            self.show_error(str(exc))

    # -- model and thresholds -------------------------------------------------------------
    def load_model(self, path: Path) -> bool:
        try:
            detector = Detector.load(path, conf=self.detection_panel.conf.value() / 100,
                                     iou=self.detection_panel.iou.value() / 100, label_iou=LABEL_IOU)  # fmt: skip
        except (KestrelError, OSError) as exc:
            self.show_error(f"cannot use model {path}: {exc}")
            return False
        self.detector, self.model_path = detector, path  # a Path, or a triton:// URL (a str)
        self.rules_editor.class_names = detector.class_names
        self.detection_panel.model_label.setText(f"{detector.meta.name} ({Path(path).name})")
        self.detection_panel.backend_label.setText(detector.backend.describe())
        self.settings.setValue("model", str(path))
        self.set_classes(self.detection_panel.classes.text())
        if self.processor is not None:
            self.processor.set_detector(detector)
        self.event_log.add_line(f"model: {detector.describe()}")
        return True

    def set_thresholds(self, conf: float, iou: float) -> None:
        self.settings.setValue("conf", conf)
        self.settings.setValue("iou", iou)
        if self.detector is not None:
            self.detector.conf, self.detector.iou = conf, iou
            self._command("refresh")

    def set_classes(self, text: str) -> None:
        names = [n.strip() for n in text.split(",") if n.strip()]
        self.settings.setValue("classes", ", ".join(names))
        if self.detector is None:
            return
        try:
            self.detector.classes = names or None
            self.detection_panel.mark_classes("")
        except (ValueError, KestrelError) as exc:
            self.detection_panel.mark_classes(str(exc))
            self.statusBar().showMessage(str(exc), 5000)
            return
        self._command("refresh")

    # -- sources --------------------------------------------------------------------------
    def open_source(self, text: str) -> bool:
        """Stop what is playing (finishing any recording) and start ``text``: a file, URL, camera or 'test'."""
        text = self.session_urls.get(text, text)
        if self.detector is None:
            self.show_error("no model: open a model package first (Open model…)")
            return False
        try:
            spec = SourceSpec.parse(text)
        except KestrelError as exc:
            self.show_error(str(exc))
            return False
        self.stop_session()
        self.objects_panel.clear_objects()
        self.processor = FrameProcessor(self.detector)
        self.processor.set_rules(self.rules_editor.rules())
        self.bridge = SessionBridge()
        self.bridge.frameReady.connect(self._on_frame)
        self.bridge.stateChanged.connect(self._on_state)
        self.bridge.errorRaised.connect(self.show_error)
        self.bridge.logged.connect(self.event_log.add_line)
        if spec.kind == "file":
            self.session = FileSession(spec, self.processor, self.bridge)
            remember(self.settings, "recent_files", text)
            self.review.open(Path(spec.location), self.model_path)
        else:
            self.review.hide()
            self.session = LiveSession(spec, self.processor, self.bridge)
            if spec.kind in ("rtsp", "uri"):
                self._remember_url(text)
        self.event_log.last_counts = None
        self.event_log.add_line(f"source: {spec.name}")
        self.setWindowTitle(f"Kestrel — {spec.name}")
        self.transport.set_seekable(False)
        self.session.start()
        return True

    def stop_session(self) -> None:
        if self.record_button.isChecked():
            self.record_button.setChecked(False)  # finishes the file
        if self.bridge is not None:
            self.bridge.frameReady.disconnect()
            self.bridge.stateChanged.disconnect()
            self.bridge.errorRaised.disconnect()
            self.bridge.logged.disconnect()
        if self.session is not None and not self.session.stop():
            self.event_log.add_line("warning: the source did not stop within 10 s")
        self.session, self.bridge = None, None

    def _choose_file(self) -> None:
        start = str(self.settings.value("last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open video", start, VIDEO_FILTER)
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_source(path)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model package", str(Path.cwd()), "Model (*.onnx)")
        if path:
            self.load_model(Path(path))

    def _command(self, name: str, *args) -> None:
        if self.session is not None:
            getattr(self.session, name)(*args)

    # -- from the session -----------------------------------------------------------------
    def _on_frame(self) -> None:
        if self.bridge is None or (result := self.bridge.latest()) is None:
            return
        self.current = result
        self.shown_frames += 1
        self._drain_object_events()
        self.view.show_frame(result.annotated)
        seconds = result.frame.pts_ns / 1e9
        self.transport.set_position(seconds)
        self.review.set_position(seconds)
        self.event_log.add_counts(format_time(seconds), dict(result.counts))

    def _drain_object_events(self) -> None:
        processor = self.processor
        while processor is not None and not processor.object_events.empty():
            event = processor.object_events.get()
            if not self.objects_panel.whole_file:
                self.objects_panel.apply(event)

    def set_rules(self, rules) -> None:
        """Zones and lines from the editor apply to the running session at once (its counts start again)."""
        if self.processor is not None:
            self.processor.set_rules(rules)
            self._command("refresh")

    def choose_object(self, object_id: int, first_pts_s: float) -> None:
        """Select an object; on a file, go to the frame where it was first seen."""
        self.selected_object = object_id
        if isinstance(self.session, FileSession):
            self._command("seek", first_pts_s)
        self.event_log.add_line(f"object #{object_id} selected (first seen {format_time(first_pts_s)})")

    def _on_state(self, name: str, info: dict) -> None:
        if name == "opened":
            self.transport.set_seekable(bool(info.get("seekable")), float(info.get("duration_s", 0.0)))
        elif name in ("playing", "paused"):
            self.transport.set_playing(name == "playing")
        elif name == "ended":
            self.transport.set_playing(False)
            if self.processor is not None and isinstance(self.session, FileSession):
                for record in self.processor.objects.finish():  # the file is over: its objects end
                    self.processor.object_events.put(record)
            self.event_log.add_line("end of stream")
        self.statusBar().showMessage(name)

    def show_error(self, message: str) -> None:
        """A dialog that does not block the event loop (the video keeps its thread; tests can read it)."""
        self.last_error = redact_text(message)
        self.event_log.add_line(f"error: {self.last_error}")
        self.statusBar().showMessage(self.last_error)
        box = QMessageBox(QMessageBox.Icon.Warning, "Kestrel", self.last_error, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _update_stats(self) -> None:
        self._check_recording()
        self._drain_object_events()
        stats = {"shown": f"{self.shown_frames} frames"}
        if self.session is not None:
            stats |= self.session.stats()
        if self.processor is not None:
            for line in self.processor.hud_lines():
                name, _, value = line.partition(": ")
                stats[name] = value
        if self.processor is not None and self.processor.recorder.active:
            stats["recording"] = str(self.processor.recorder.sink.path.name)
        self.stats_panel.show_stats(stats)

    # -- record and snapshot --------------------------------------------------------------
    def start_recording(self, path: Path | None = None) -> Path | None:
        if self.processor is None:
            self.show_error("nothing to record: open a source first")
            return None
        path = path or self.output_dir / time.strftime("kestrel-%Y%m%d-%H%M%S.mkv")
        fps = getattr(self.session, "fps", 30.0) or 30.0
        try:
            self.processor.recorder.start(Path(path), fps)
        except KestrelError as exc:
            self.show_error(f"cannot record: {exc}")
            return None
        self.event_log.add_line(f"recording to {path}")
        return Path(path)

    def stop_recording(self) -> tuple[Path, int] | None:
        try:
            done = self.processor.recorder.stop() if self.processor is not None else None
        except KestrelError as exc:
            self.show_error(f"recording failed: {exc}")
            return None
        if done is not None:
            self.event_log.add_line(f"recorded {done[1]} frames to {done[0]}")
        return done

    def _check_recording(self) -> None:
        """A recording that ended by itself (full disk, ...) is said once and the button released."""
        recorder = self.processor.recorder if self.processor is not None else None
        if recorder is not None and recorder.error and not recorder.active:
            message, recorder.error = recorder.error, ""
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.setText("Record")
            self.record_button.blockSignals(False)
            self.show_error(f"recording stopped: {message}")

    def _record_toggled(self, on: bool) -> None:
        if on and self.start_recording() is None:
            self.record_button.setChecked(False)
        elif not on:
            self.stop_recording()
        self.record_button.setText("Stop recording" if self.record_button.isChecked() else "Record")

    def snapshot(self, path: Path | None = None) -> Path | None:
        if self.current is None:
            self.show_error("nothing to snapshot yet")
            return None
        pts = self.current.frame.pts_ns / 1e9
        path = Path(path or self.output_dir / time.strftime(f"kestrel-%Y%m%d-%H%M%S-{pts:.2f}s.png"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), self.current.annotated):
            self.show_error(f"cannot write {path}")
            return None
        self.event_log.add_line(f"snapshot {path}")
        return path

    # -- settings and closing -------------------------------------------------------------
    def _remember_url(self, url: str) -> None:
        """URL history without secrets on disk: the settings file keeps the URL with its user info and
        credential parameters removed; the full URL lives only in this window's memory, for this session
        (choosing the stored entry again uses it; after a restart the password must be typed again)."""
        stored = strip_secrets(url)
        if stored != url:
            self.session_urls[stored] = url
        remember(self.settings, "rtsp_history", stored)
        self.source_panel.set_history(history(self.settings, "rtsp_history"))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stats_timer.stop()
        self.stop_session()
        self.review.stop()
        if self.cameras is not None:
            self.cameras.close()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()
        super().closeEvent(event)
