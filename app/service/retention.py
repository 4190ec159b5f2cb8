"""Storage retention: clips and snapshots older than ``retain_days`` go, and the oldest go first while the storage
folder is over ``max_gb``. Files being written (``*.partial``) and the live segment ring are never touched (the ring
bounds itself by ``record.keep_s``); events files are the record of what happened and are kept."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from types import SimpleNamespace

KEPT_FOLDERS = ("segments",)  # managed elsewhere
LOW_WATER = 0.9  # over the quota's 90 %, delete down to it: room for the clips being cut meanwhile
_GONE = SimpleNamespace(st_size=0, st_mtime=float("inf"))  # a file deleted meanwhile: nothing to count or delete
KEPT_SUFFIXES = (".partial", ".jsonl", ".json", ".sqlite", ".sqlite-wal", ".sqlite-shm")


def _stat(path: Path) -> os.stat_result | None:
    """A file's stat, or None when it went away meanwhile (the ring and the clip writer delete as they go)."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _files(folder: Path) -> dict[Path, os.stat_result]:
    """Every regular file under ``folder`` with its stat. os.walk, unlike Path.rglob, skips a folder that
    vanishes while it is walked (the clip writer's temporary folders come and go)."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(root) / name
            st = _stat(p)
            if st is not None and stat.S_ISREG(st.st_mode):
                found[p] = st
    return found


def folder_bytes(folder: Path) -> int:
    return sum(st.st_size for st in _files(folder).values())


def prunable(folder: Path) -> list[Path]:
    """Files retention may delete, oldest first."""
    files = {p: st for p, st in _files(folder).items() if not p.name.endswith(KEPT_SUFFIXES)
             and not any(part in KEPT_FOLDERS for part in p.relative_to(folder).parts)}  # fmt: skip
    return sorted(files, key=lambda p: files[p].st_mtime)


def enforce(folder: Path, retain_days: float, max_gb: float, now: float | None = None) -> list[Path]:
    """Delete what is too old, then, once the folder passes 90 % of ``max_gb``, the oldest until it is back under
    90 % (so the clip being cut next still fits under the quota); returns what was deleted."""
    now = time.time() if now is None else now
    deleted = []
    candidates = prunable(folder)
    if retain_days > 0:
        limit = now - retain_days * 86400
        for p in [p for p in candidates if (_stat(p) or _GONE).st_mtime < limit]:
            p.unlink(missing_ok=True)
            deleted.append(p)
        candidates = [p for p in candidates if p not in deleted]
    if max_gb > 0:
        total, quota = folder_bytes(folder), max_gb * 1e9
        target = quota * LOW_WATER if total > quota * LOW_WATER else quota
        for p in candidates:
            if total <= target:
                break
            size = (_stat(p) or _GONE).st_size
            p.unlink(missing_ok=True)
            deleted.append(p)
            total -= size
    return deleted


class Retention:
    def __init__(self, folder: Path, retain_days: float, max_gb: float, every_s: float = 10.0, log=None) -> None:
        self.folder, self.retain_days, self.max_gb, self.every_s = folder, retain_days, max_gb, every_s
        self.deleted, self.log, self.warned = 0, log, False
        self.stop_event, self.poked = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="kestrel-retention", daemon=True)

    def poke(self, *_) -> None:
        """Something was written: check the quota now rather than at the next round."""
        if self.max_gb > 0:
            self.poked.set()

    def start(self) -> None:
        if self.retain_days > 0 or self.max_gb > 0:
            self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.poked.wait(self.every_s)
            self.poked.clear()
            if self.stop_event.is_set():
                break
            try:
                self._round()
            except OSError as exc:  # a file we may not delete: say so, try again next round
                if self.log is not None:
                    print(f"kestrel serve: retention: {exc}", file=self.log, flush=True)

    def _round(self) -> None:
        self.deleted += len(enforce(self.folder, self.retain_days, self.max_gb))
        if self.max_gb > 0 and not self.warned and self.log is not None:
            kept = folder_bytes(self.folder) - sum((_stat(p) or _GONE).st_size for p in prunable(self.folder))
            if kept > self.max_gb * 1e9:
                self.warned = True
                print(f"kestrel serve: storage.max_gb ({self.max_gb:g}) is below what retention may not delete "
                      f"({kept / 1e9:.3f} GB of segment rings, partial clips and event files): every clip is "
                      "deleted soon after it is cut; raise max_gb or lower record.keep_s", file=self.log, flush=True)

    def stop(self) -> None:
        self.stop_event.set()
        self.poked.set()
