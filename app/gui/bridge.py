"""From the worker thread to the GUI thread: Qt signals, with a latest-frame slot in between.

The worker never waits for the GUI: it parks its newest ViewResult and signals only when the GUI has
taken the previous one, so a busy GUI sees fewer frames instead of a growing queue of them.
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QObject, pyqtSignal

from .processor import ViewResult


class SessionBridge(QObject):
    frameReady = pyqtSignal()  # take it with latest()
    stateChanged = pyqtSignal(str, dict)
    errorRaised = pyqtSignal(str)
    logged = pyqtSignal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._latest: ViewResult | None = None
        self._pending = False
        self.delivered = 0

    # -- SessionEvents, called from the worker thread -------------------------------------
    def frame(self, result: ViewResult) -> None:
        with self._lock:
            self._latest = result
            self.delivered += 1
            if self._pending:
                return
            self._pending = True
        self.frameReady.emit()

    def state(self, name: str, info: dict) -> None:
        self.stateChanged.emit(name, info)

    def error(self, message: str) -> None:
        self.errorRaised.emit(message)

    def log(self, text: str) -> None:
        self.logged.emit(text)

    # -- GUI thread -----------------------------------------------------------------------
    def latest(self) -> ViewResult | None:
        with self._lock:
            self._pending = False
            return self._latest
