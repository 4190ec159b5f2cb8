"""Every event of every camera in one SQLite table (in the storage folder), for `/api/events`."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from ..pipeline import Sink


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A database file for one process's threads (callers hold their own lock): autocommit, write-ahead log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


class EventStore:
    def __init__(self, path: Path) -> None:
        self.db = open_sqlite(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT, "
                        "type TEXT, label TEXT, object INTEGER, wall REAL, payload TEXT)")  # fmt: skip
        self.db.execute("CREATE INDEX IF NOT EXISTS events_by_time ON events (wall)")
        self.lock = threading.Lock()

    def add(self, camera: str, record: dict) -> None:
        with self.lock:
            self.db.execute("INSERT INTO events (camera, type, label, object, wall, payload) VALUES (?, ?, ?, ?, ?, ?)",
                            (camera, record.get("type", ""), record.get("label"), record.get("id"), time.time(),
                             json.dumps(record)))  # fmt: skip

    def query(self, camera: str | None = None, label: str | None = None, since: float | None = None,
              limit: int = 500) -> list[dict]:  # fmt: skip
        where, args = [], []
        for column, value in (("camera = ?", camera), ("label = ?", label), ("wall >= ?", since)):
            if value is not None:
                where.append(column)
                args.append(value)
        sql = "SELECT id, camera, wall, payload FROM events"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [{"event": i, "camera": c, "time": w, **json.loads(p)} for i, c, w, p in rows]

    def get(self, event_id: int) -> dict | None:
        with self.lock:
            row = self.db.execute("SELECT camera, payload FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else {"camera": row[0], **json.loads(row[1])}

    def close(self) -> None:
        with self.lock:
            self.db.close()


class StoreSink(Sink):
    """A camera's events into the store; also keeps its newest frame for `/api/CAMERA/latest.jpg`."""

    def __init__(self, camera: str, store: EventStore) -> None:
        self.camera, self.store = camera, store
        self.latest = None

    def write(self, frame, detections, annotated) -> None:
        self.latest = frame.image

    def notice(self, record: dict) -> None:
        self.store.add(self.camera, record)
