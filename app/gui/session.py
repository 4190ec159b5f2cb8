"""A source being watched: one worker thread that turns frames into ViewResults. No Qt here.

The GUI talks to a session through its command methods (any thread) and hears back through
``SessionEvents``, called from the worker thread (the Qt bridge turns them into queued signals).
"""

from __future__ import annotations

import threading
from typing import Protocol

from detector.errors import KestrelError

from ..capture.spec import SourceSpec
from .processor import FrameProcessor, ViewResult


class SessionEvents(Protocol):
    def frame(self, result: ViewResult) -> None: ...
    def state(self, name: str, info: dict) -> None: ...  # opened, playing, paused, ended, speed, stopped
    def error(self, message: str) -> None: ...
    def log(self, text: str) -> None: ...


class Session:
    seekable = False

    def __init__(self, spec: SourceSpec, processor: FrameProcessor, events: SessionEvents) -> None:
        self.spec, self.processor, self.events = spec, processor, events
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._guarded, name=f"kestrel-{type(self).__name__}", daemon=True)

    def start(self) -> Session:
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop the worker and finish any recording; True when the thread has ended."""
        self.stop_event.set()
        self._interrupt()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout_s)
        self.processor.recorder.stop()
        return not self.thread.is_alive()

    def _guarded(self) -> None:
        try:
            self._run()
        except KestrelError as exc:
            if not self.stop_event.is_set():
                self.events.error(str(exc))
        except Exception as exc:  # a bug must reach the user as a dialog, not kill the thread silently
            self.events.error(f"{type(exc).__name__}: {exc}")
        finally:
            self.events.state("stopped", {})

    def _run(self) -> None:
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Wake the worker so it sees the stop request."""

    # commands a source may not support are no-ops
    def play(self) -> None: ...
    def pause(self) -> None: ...
    def toggle(self) -> None: ...
    def step(self, frames: int) -> None: ...
    def seek(self, seconds: float) -> None: ...
    def set_speed(self, speed: float) -> None: ...
    def refresh(self) -> None: ...

    def stats(self) -> dict[str, str]:
        return {}
