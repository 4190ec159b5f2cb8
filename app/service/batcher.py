"""One detector shared by every camera: each camera hands in its newest sampled frame and waits; a batch runs
when every camera that is streaming has one waiting, or ``timeout_s`` after the first arrived (DeepStream's
nvstreammux rule). Cameras are served in arrival order, so none starves; a camera never queues more than one
frame (its pipeline keeps only the newest), so no batch holds a stale frame."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from detector.detections import Detections
from detector.detector import Detector


@dataclass
class _Request:
    camera: str
    image: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    result: Detections | None = None
    error: BaseException | None = None


def default_batch(detector) -> int:
    """The batch a backend gains from: none on the CPU (benchmarks/serve_capacity.py: batches of 8 sustained no
    more cameras than one call per frame on 2 cores, and dropped more frames past that), 8 elsewhere (a GPU's or
    a Triton server's throughput grows with the batch)."""
    backend = getattr(detector, "backend", None)
    providers = backend.session.get_providers() if backend is not None and hasattr(backend, "session") else []
    return 1 if providers and all(p == "CPUExecutionProvider" for p in providers) else 8


class BatchingDetector:
    def __init__(self, detector: Detector, max_batch: int = 8, timeout_s: float = 0.02) -> None:
        self.detector, self.max_batch, self.timeout_s = detector, max_batch, timeout_s
        self.cond = threading.Condition()
        self.waiting: list[_Request] = []
        self.streaming: set[str] = set()  # cameras currently delivering frames
        self.stopped = False
        self.on_batch = None  # optional callback(size, seconds)
        self.thread = threading.Thread(target=self._run, name="kestrel-batcher", daemon=True)
        self.thread.start()

    def client(self, camera: str) -> CameraDetector:
        return CameraDetector(self, camera)

    def detect(self, camera: str, image: np.ndarray) -> Detections:
        request = _Request(camera, image)
        with self.cond:
            if self.stopped:
                raise RuntimeError("the detector has stopped")
            self.streaming.add(camera)
            self.waiting.append(request)
            self.cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def idle(self, camera: str) -> None:
        """``camera`` is not delivering frames (reconnecting): batches stop waiting for it."""
        with self.cond:
            self.streaming.discard(camera)
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        self.thread.join(timeout=5)

    def _take(self) -> list[_Request]:
        with self.cond:
            while not self.waiting and not self.stopped:
                self.cond.wait()
            if self.stopped:
                for r in self.waiting:
                    r.error = RuntimeError("the detector has stopped")
                    r.done.set()
                return []
            deadline = time.monotonic() + self.timeout_s
            while (len({r.camera for r in self.waiting}) < min(len(self.streaming), self.max_batch)
                   and not self.stopped and (left := deadline - time.monotonic()) > 0):  # fmt: skip
                self.cond.wait(left)
            batch, self.waiting = self.waiting[: self.max_batch], self.waiting[self.max_batch :]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            t0 = time.perf_counter()
            try:
                results = self.detector.detect_batch([r.image for r in batch])
                for r, d in zip(batch, results, strict=True):
                    r.result = d
            except Exception as exc:  # noqa: BLE001 - handed to every waiting camera
                for r in batch:
                    r.error = exc
            seconds = time.perf_counter() - t0
            if self.on_batch is not None:
                self.on_batch(len(batch), seconds)
            for r in batch:
                r.done.set()


class CameraDetector:
    """What a camera's pipeline calls as its detector: the shared batcher, under the camera's name."""

    def __init__(self, batcher: BatchingDetector, camera: str) -> None:
        self.batcher, self.camera = batcher, camera
        self.class_names = batcher.detector.class_names

    def __call__(self, image: np.ndarray) -> Detections:
        return self.batcher.detect(self.camera, image)
