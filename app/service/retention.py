"""Storage retention: clips and snapshots older than ``retain_days`` go, and the oldest go first while the storage
folder is over ``max_gb``. Files being written (``*.partial``) and the live segment ring are never touched (the ring
bounds itself by ``record.keep_s``); events files are the record of what happened and are kept."""

from __future__ import annotations

import threading
import time
from pathlib import Path

KEPT_FOLDERS = ("segments",)  # managed elsewhere
KEPT_SUFFIXES = (".partial", ".jsonl", ".json", ".sqlite", ".sqlite-wal", ".sqlite-shm")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prunable(folder: Path) -> list[Path]:
    """Files retention may delete, oldest first."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(KEPT_SUFFIXES)
             and not any(part in KEPT_FOLDERS for part in p.relative_to(folder).parts)]  # fmt: skip
    return sorted(files, key=lambda p: p.stat().st_mtime)


def enforce(folder: Path, retain_days: float, max_gb: float, now: float | None = None) -> list[Path]:
    """Delete what is too old, then the oldest until the folder fits ``max_gb``; returns what was deleted."""
    now = time.time() if now is None else now
    deleted = []
    candidates = prunable(folder)
    if retain_days > 0:
        limit = now - retain_days * 86400
        for p in [p for p in candidates if p.stat().st_mtime < limit]:
            p.unlink(missing_ok=True)
            deleted.append(p)
        candidates = [p for p in candidates if p not in deleted]
    if max_gb > 0:
        total, quota = folder_bytes(folder), max_gb * 1e9
        for p in candidates:
            if total <= quota:
                break
            size = p.stat().st_size
            p.unlink(missing_ok=True)
            deleted.append(p)
            total -= size
    return deleted


class Retention:
    def __init__(self, folder: Path, retain_days: float, max_gb: float, every_s: float = 30.0) -> None:
        self.folder, self.retain_days, self.max_gb, self.every_s = folder, retain_days, max_gb, every_s
        self.deleted = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kestrel-retention", daemon=True)

    def start(self) -> None:
        if self.retain_days > 0 or self.max_gb > 0:
            self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            self.deleted += len(enforce(self.folder, self.retain_days, self.max_gb))

    def stop(self) -> None:
        self.stop_event.set()
