"""JSON-lines event files: each record one whole line, written at once (tail -f friendly).

A line is written with one ``write`` call; if the disk fills part-way, the file is cut back to the end of
the last whole line, so a reader never meets half a JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from detector.detections import Detections
from detector.errors import KestrelError

from ..frame import Frame
from .write_errors import describe_os_error


class JsonLines:
    """An append-only file of JSON records. ``append``: keep what is there and start with a ``run`` header
    line; otherwise the file is created new (the caller has already refused or allowed an existing one)."""

    def __init__(self, path: str | Path, append: bool = False, header: dict | None = None) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise KestrelError(f"cannot write {self.path}: it is a directory")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd: int | None = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise KestrelError(describe_os_error(self.path, exc)) from None
        self.count = 0
        if append:
            self.write_record({"type": "run", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(header or {})})

    def write_record(self, record: dict) -> None:
        if self.fd is None:
            raise KestrelError(f"{self.path} is closed")
        data = (json.dumps(record) + "\n").encode()
        end = os.fstat(self.fd).st_size
        try:
            written = os.write(self.fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device")  # a short write: the disk filled mid-line
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, end)
            raise KestrelError(describe_os_error(self.path, exc)) from None
        self.count += 1

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class EventLog(JsonLines):
    """Per-frame detection records (``--events-mode frames``) and the pipeline's source notices."""

    def __init__(self, path: str | Path, every_frame: bool = False, append: bool = False) -> None:
        super().__init__(path, append)
        self.every_frame = every_frame

    def write(self, frame: Frame, detections: Detections) -> None:
        if not len(detections) and not self.every_frame:
            return
        record = {"source": frame.source, "frame": frame.index, "pts_ns": frame.pts_ns,
                  "pts_s": round(frame.pts_ns / 1e9, 6), "detections": detections.to_records()}  # fmt: skip
        self.write_record(record)
