"""The rules editor: draw zones, lines and masks on the (paused) video by clicking, drag their vertices, name
them, choose their classes, save and load the rules file that `kestrel run --rules` reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..analytics.rules_file import Rules, load_rules, parse_rules
from .video_view import VideoView

GRAB_PX = 10.0  # a press this close to a vertex (in frame pixels) drags it


class RulesEditor(QGroupBox):
    """``rulesChanged(Rules | None)`` whenever the shapes change (None: no rules); ``error(str)`` for a problem."""

    rulesChanged = pyqtSignal(object)
    error = pyqtSignal(str)

    def __init__(self, view: VideoView, class_names: tuple[str, ...] = (), parent: QWidget | None = None) -> None:
        super().__init__("Zones and lines", parent)
        self.view, self.class_names = view, tuple(class_names)
        self.shapes: list[dict] = []  # as in the rules file: {"kind": zone|line|mask, "name", "points", "classes"}
        self.mode: str | None = None  # the kind being drawn
        self.points: list[list[float]] = []
        self.grabbed: tuple[int, int] | None = None  # (shape, vertex) being dragged
        self.name, self.classes = QLineEdit(), QLineEdit()
        self.name.setPlaceholderText("name (e.g. door)")
        self.classes.setPlaceholderText("classes, comma-separated (empty: all)")
        self.list = QListWidget()
        buttons = {}
        for label in ("Zone", "Line", "Mask", "Finish", "Delete", "Save…", "Load…"):
            buttons[label] = QPushButton(label)
        self.buttons = buttons
        buttons["Zone"].clicked.connect(lambda: self.start("zone"))
        buttons["Line"].clicked.connect(lambda: self.start("line"))
        buttons["Mask"].clicked.connect(lambda: self.start("mask"))
        buttons["Finish"].clicked.connect(self.finish)
        buttons["Delete"].clicked.connect(self.delete_selected)
        buttons["Save…"].clicked.connect(lambda: self._choose_and("save"))
        buttons["Load…"].clicked.connect(lambda: self._choose_and("load"))
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Classes", self.classes)
        draw, files = QHBoxLayout(), QHBoxLayout()
        for label in ("Zone", "Line", "Mask", "Finish"):
            draw.addWidget(buttons[label])
        for label in ("Delete", "Save…", "Load…"):
            files.addWidget(buttons[label])
        column = QVBoxLayout(self)
        column.addLayout(draw)
        column.addLayout(form)
        column.addWidget(self.list)
        column.addLayout(files)
        view.pressed.connect(self._pressed)
        view.dragged.connect(self._dragged)
        view.released.connect(lambda *_: setattr(self, "grabbed", None))

    # -- drawing ----------------------------------------------------------------------------------------
    def start(self, kind: str) -> None:
        """Draw a new shape: click its points on the video (a line ends at 2; a zone or mask with Finish)."""
        self.mode, self.points = kind, []
        self.view.sketch = []
        self.view.update()

    def _pressed(self, x: float, y: float) -> None:
        if self.mode is None:
            self.grabbed = self._nearest_vertex(x, y)
            return
        self.points.append([round(x, 1), round(y, 1)])
        self.view.sketch = [tuple(p) for p in self.points]
        self.view.update()
        if self.mode == "line" and len(self.points) == 2:
            self.finish()

    def _dragged(self, x: float, y: float) -> None:
        if self.grabbed is None:
            return
        shape, vertex = self.grabbed
        self.shapes[shape]["points"][vertex] = [round(x, 1), round(y, 1)]
        self._changed()

    def _nearest_vertex(self, x: float, y: float) -> tuple[int, int] | None:
        best, where = GRAB_PX, None
        for s, shape in enumerate(self.shapes):
            for v, (px, py) in enumerate(shape["points"]):
                d = float(np.hypot(px - x, py - y))
                if d <= best:
                    best, where = d, (s, v)
        return where

    def finish(self) -> bool:
        """Close the shape being drawn; False (and an error) when it is not a valid one."""
        if self.mode is None:
            return False
        kind, points, self.mode, self.points = self.mode, self.points, None, []
        self.view.sketch = []
        name = self.name.text().strip() or f"{kind}{len(self.shapes) + 1}"
        classes = [c.strip() for c in self.classes.text().split(",") if c.strip()]
        shape = {"kind": kind, "name": name, "points": points, "classes": classes}
        try:
            parse_rules(self._document([*self.shapes, shape]), self.class_names or tuple(classes))
        except Exception as exc:  # noqa: BLE001 - a RulesError says what is wrong with the shape
            self.error.emit(str(exc))
            self.view.update()
            return False
        self.shapes.append(shape)
        self._changed()
        return True

    def delete_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.shapes):
            del self.shapes[row]
            self._changed()

    # -- the rules file ---------------------------------------------------------------------------------
    def rules(self) -> Rules | None:
        return parse_rules(self._document(self.shapes), self.class_names) if self.shapes else None

    def save(self, path: Path) -> None:
        from ..outputs import atomic_output

        with atomic_output(Path(path)) as tmp:
            tmp.write_text(yaml.safe_dump(self._document(self.shapes), sort_keys=False))

    def load(self, path: Path) -> None:
        rules = load_rules(Path(path), self.class_names)  # validated before anything changes
        shapes = [{"kind": "mask", "name": f"mask{i + 1}", "points": m.tolist(), "classes": []}
                  for i, m in enumerate(rules.masks)]  # fmt: skip
        shapes += [{"kind": "zone", "name": z.name, "points": z.points.tolist(), "classes": list(z.classes),
                    "loiter_s": z.loiter_s, "occupancy": z.occupancy} for z in rules.zones]  # fmt: skip
        shapes += [{"kind": "line", "name": ln.name, "points": ln.points.tolist(), "classes": list(ln.classes),
                    "count": ln.count} for ln in rules.lines]  # fmt: skip
        self.shapes = shapes
        self._changed()

    def _choose_and(self, action: str) -> None:
        dialog = QFileDialog.getSaveFileName if action == "save" else QFileDialog.getOpenFileName
        path, _ = dialog(self, f"{action.title()} rules", "", "Rules (*.yaml *.yml)")
        if not path:
            return
        try:
            self.save(Path(path)) if action == "save" else self.load(Path(path))
        except Exception as exc:  # noqa: BLE001 - shown as the GUI's error dialog
            self.error.emit(str(exc))

    @staticmethod
    def _document(shapes: list[dict]) -> dict:
        doc: dict = {}
        for s in shapes:
            if s["kind"] == "mask":
                doc.setdefault("masks", []).append({"polygon": s["points"]})
                continue
            key = "polygon" if s["kind"] == "zone" else "points"
            entry = {"name": s["name"], key: s["points"]}
            if s["classes"]:
                entry["classes"] = s["classes"]
            entry |= {k: s[k] for k in ("loiter_s", "occupancy", "count") if s.get(k)}
            doc.setdefault("zones" if s["kind"] == "zone" else "lines", []).append(entry)
        return doc

    def _changed(self) -> None:
        self.list.clear()
        self.list.addItems([f"{s['kind']}: {s['name']}" for s in self.shapes])
        self.rulesChanged.emit(self.rules())
        self.view.update()
