"""A remote detector (a Triton server) with a local fallback package: the server while it answers, the local
package while it does not, and back to the server as soon as it answers again — logged, and timed for
`/metrics`. Both must know the same classes (the fallback is refused at start otherwise)."""

from __future__ import annotations

import threading
import time

from detector.detections import Detections
from detector.detector import Detector
from detector.errors import BackendError, KestrelError


class FailoverDetector:
    def __init__(self, url: str, fallback: Detector, log, retry_s: float = 2.0, **options: object) -> None:
        self.url, self.fallback, self.log, self.retry_s, self.options = url, fallback, log, retry_s, options
        self.primary: Detector | None = None
        self.lock = threading.Lock()
        self.on_fallback_since: float | None = None
        self.fallback_s, self.fallbacks, self.last_try = 0.0, 0, 0.0
        try:
            self.primary = self._load()
        except BackendError as exc:
            self._fall(f"{exc}")

    def _load(self) -> Detector:
        detector = Detector.load(self.url, **self.options)
        if tuple(detector.class_names) != tuple(self.fallback.class_names):
            raise KestrelError(f"fallback: its classes differ from {self.url}'s; it cannot stand in for it")
        return detector

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.fallback.class_names

    @property
    def on_fallback(self) -> bool:
        return self.on_fallback_since is not None

    def fallback_seconds(self) -> float:
        with self.lock:
            ongoing = time.monotonic() - self.on_fallback_since if self.on_fallback_since is not None else 0.0
            return self.fallback_s + ongoing

    def _say(self, text: str) -> None:
        print(f"kestrel serve: {text}", file=self.log, flush=True)

    def _fall(self, why: str) -> None:
        with self.lock:
            self.on_fallback_since, self.last_try = time.monotonic(), time.monotonic()
            self.fallbacks += 1
        self._say(f"detector {self.url} unavailable ({why}); using the local fallback")

    def _back(self) -> None:
        with self.lock:
            gap = time.monotonic() - self.on_fallback_since
            self.fallback_s += gap
            self.on_fallback_since = None
        self._say(f"detector {self.url} answers again after {gap:.1f} s on the fallback")

    def detect_batch(self, images: list) -> list[Detections]:
        if self.on_fallback and time.monotonic() - self.last_try >= self.retry_s:
            self.last_try = time.monotonic()
            try:
                if self.primary is None:
                    self.primary = self._load()
                results = self.primary.detect_batch(images)
                self._back()
                return results
            except BackendError:
                pass  # still down: the fallback answers; try again in retry_s
        if not self.on_fallback and self.primary is not None:
            try:
                return self.primary.detect_batch(images)
            except BackendError as exc:
                self._fall(str(exc))
        return self.fallback.detect_batch(images)
