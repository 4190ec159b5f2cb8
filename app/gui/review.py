"""Reviewing a file in the GUI: when a video file opens, its analysis (replay_analysis: the same cache as `kestrel
replay --analyse`) loads at once or runs in a background thread with progress; then the timeline strip shows it,
N / P jump to the next / previous event of the chosen kind, and the objects panel lists the file's objects with
their snapshots."""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QWidget

from ..replay_analysis import Analysis, analyse, load, sidecar_for
from .timeline import TimelineStrip

FILTERS = {"all events": None, "close approach": ("close_approach",), "new pedestrian / cyclist": ("new",),
           "line crossing": ("line_cross",), "zones": ("zone_enter", "loiter", "occupancy_start")}  # fmt: skip
SETTINGS = {"cmc": "auto", "conf": 0.35, "ttc_s": 2.0, "rules": None}  # `kestrel replay --analyse`'s defaults


class _Signals(QObject):
    progress = pyqtSignal(float)
    done = pyqtSignal(object)
    failed = pyqtSignal(str)
    exported = pyqtSignal(str)


class Review(QObject):
    seekRequested = pyqtSignal(float)
    analysed = pyqtSignal(object)  # the Analysis, once loaded or computed
    message = pyqtSignal(str)  # for the status bar: an export written, an analysis that failed

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.auto = QCheckBox("Analyse")
        self.auto.setToolTip("Analyse each video file when it opens (in the background; kept in a cache)")
        self.auto.setChecked(str(settings.value("analyse_files", "true")).lower() == "true")
        self.timeline = TimelineStrip()
        self.filter = QComboBox()
        self.filter.addItems(list(FILTERS))
        self.filter.setToolTip("Which events N and P jump to")
        self.prev_button, self.next_button = QPushButton("◀ event"), QPushButton("event ▶")
        self.prev_button.setToolTip("Previous event (P)")
        self.next_button.setToolTip("Next event (N)")
        self.export_button = QPushButton("Export event")
        self.export_button.setToolTip("Export the event N / P went to, 5 s before to 5 s after, with the overlay")
        self.output_dir: Path = Path.cwd() / "kestrel-output"
        self.bar = QWidget()
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(6, 0, 6, 2)
        row.addWidget(self.auto)
        row.addWidget(self.timeline, 1)
        for widget in (self.filter, self.prev_button, self.next_button, self.export_button):
            row.addWidget(widget)
        self.bar.setVisible(False)
        self.signals = _Signals()
        self.signals.progress.connect(self.timeline.set_progress)
        self.signals.done.connect(self._done)
        self.signals.failed.connect(lambda message: self.timeline.set_progress(None))
        self.signals.failed.connect(self.message)
        self.signals.exported.connect(self.message)
        self.export_button.clicked.connect(lambda: self.export())
        self.timeline.seekRequested.connect(self.seekRequested)
        self.prev_button.clicked.connect(lambda: self.jump(-1))
        self.next_button.clicked.connect(lambda: self.jump(1))
        self.filter.currentIndexChanged.connect(lambda _: self._show())
        self.auto.toggled.connect(self._auto_toggled)
        self.source: tuple[Path, Path] | None = None  # the open file and the model
        self.analysis: Analysis | None = None
        self.current_event: dict | None = None  # where N / P went last
        self.exporting: threading.Thread | None = None
        self.position_s = 0.0
        self.stop_event: threading.Event | None = None
        self.thread: threading.Thread | None = None

    def open(self, path: Path, model: Path) -> None:
        """A file was opened: show its analysis, from the cache or computed in the background."""
        self.stop()
        self.source, self.analysis, self.position_s = (path, model), None, 0.0
        self.timeline.clear()
        self.bar.setVisible(True)
        if self.auto.isChecked():
            self._start(path, model)

    def _auto_toggled(self, on: bool) -> None:
        self.settings.setValue("analyse_files", "true" if on else "false")
        if on and self.source is not None and self.analysis is None and self.thread is None:
            self._start(*self.source)
        elif not on:
            self.stop()
            self.timeline.set_progress(None)

    def _start(self, path: Path, model: Path) -> None:
        settings = {"model": Path(model).name, **SETTINGS}
        cached = load(sidecar_for(path, settings))
        if cached is not None:
            self._done(cached)
            return
        self.timeline.set_progress(0.0)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._work, args=(path, model, settings, self.stop_event),
                                       name="kestrel-analysis", daemon=True)  # fmt: skip
        self.thread.start()

    def _work(self, path: Path, model: Path, settings: dict, stop: threading.Event) -> None:
        from detector.detector import Detector

        from ..commands.run_cmd import LABEL_IOU

        try:
            detector = Detector.load(model, conf=settings["conf"], label_iou=LABEL_IOU)  # its own: no shared state
            last = [-1.0]

            def progress(pts_s: float, duration_s: float) -> None:
                fraction = pts_s / duration_s if duration_s else 0.0
                if fraction - last[0] >= 0.01:
                    last[0] = fraction
                    self.signals.progress.emit(min(fraction, 1.0))

            result = analyse(path, detector, settings, progress=progress, stop=stop)
        except KeyboardInterrupt:
            return  # stopped: nothing saved, nothing to show
        except Exception as exc:  # noqa: BLE001 - shown to the user, the window goes on
            self.signals.failed.emit(f"analysis of {path.name} failed: {exc}")
            return
        if not stop.is_set():
            self.signals.done.emit(result)

    def _done(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self._show()
        self.analysed.emit(analysis)

    def _kinds(self) -> tuple[str, ...] | None:
        return FILTERS[self.filter.currentText()]

    def events(self) -> list[dict]:
        """The events N and P visit: those worth a look, narrowed by the filter."""
        if self.analysis is None:
            return []
        kinds = self._kinds()
        return [e for e in self.analysis.marked() if kinds is None or e["type"] in kinds]

    def _show(self) -> None:
        if self.analysis is not None:
            self.timeline.set_analysis(self.analysis.duration_s, self.analysis.counts, self.events())

    def set_position(self, seconds: float) -> None:
        self.position_s = seconds
        self.timeline.set_position(seconds)

    def jump(self, direction: int) -> dict | None:
        """Seek to the next (1) or previous (-1) event from the current position; returns it."""
        events = self.events()
        if direction > 0:
            found = next((e for e in events if e["pts_s"] > self.position_s + 1e-3), None)
        else:
            found = next((e for e in reversed(events) if e["pts_s"] < self.position_s - 1e-3), None)
        if found is not None:
            self.position_s, self.current_event = found["pts_s"], found
            self.seekRequested.emit(found["pts_s"])
        return found

    def export(self, pre_s: float = 5.0, post_s: float = 5.0) -> Path | None:
        """Export the current event (with the overlay) to the output folder, in the background; returns the
        file it will write (the message signal says when it is done)."""
        if self.current_event is None or self.source is None or self.exporting is not None:
            self.message.emit("no event to export: go to one with N / P first" if self.current_event is None
                              else "an export is already running")  # fmt: skip
            return None
        path, model = self.source
        event = self.current_event
        out = self.output_dir / f"{path.stem}-event{event['event']}.mp4"
        start, end = max(event["pts_s"] - pre_s, 0.0), event["pts_s"] + post_s
        self.exporting = threading.Thread(target=self._export, args=(path, model, start, end, out),
                                          name="kestrel-export", daemon=True)  # fmt: skip
        self.exporting.start()
        return out

    def _export(self, path: Path, model, start: float, end: float, out: Path) -> None:
        from detector.detector import Detector

        from ..commands.run_cmd import LABEL_IOU
        from ..replay import replay

        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            detector = Detector.load(model, conf=SETTINGS["conf"], label_iou=LABEL_IOU)
            result = replay(str(path), detector, start, end, export=out)
            self.signals.exported.emit(f"exported {out} ({result.export_frames} frames)")
        except Exception as exc:  # noqa: BLE001 - shown to the user, the window goes on
            self.signals.exported.emit(f"export failed: {exc}")
        finally:
            self.exporting = None

    def hide(self) -> None:
        self.stop()
        self.source, self.analysis = None, None
        self.timeline.clear()
        self.bar.setVisible(False)

    def stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.stop_event, self.thread = None, None
