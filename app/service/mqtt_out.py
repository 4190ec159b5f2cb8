"""Events to MQTT through a durable outbox: every message is first written to SQLite (in the storage folder),
then published in order (QoS 2 by default, ``mqtt.qos``) and deleted once the broker acknowledged it. While the
broker is down the outbox holds them; when it returns they go out in order. Nothing is lost across a broker
outage or a restart of the service. With QoS 2 and the persistent session a message in flight when the broker
died is completed, not repeated; with QoS 1, or when the service itself dies mid-handshake, it may repeat.

Topics (``PREFIX`` = mqtt.topic_prefix): ``PREFIX/available`` online/offline (retained; offline is the last
will), ``PREFIX/events`` object events as ``{type, before, after}`` (Frigate's payload) and the zone, line and
source events as they are, ``PREFIX/CAMERA/LABEL`` the number of such objects in view (retained),
``PREFIX/CAMERA/status`` online/offline (retained).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt

from ..pipeline import Sink
from .store import open_sqlite


class Outbox:
    def __init__(self, path: Path) -> None:
        self.db = open_sqlite(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, "
                        "payload TEXT, retain INTEGER)")  # fmt: skip
        self.lock = threading.Lock()
        self.added = threading.Event()

    def put(self, topic: str, payload: str, retain: bool = False) -> None:
        with self.lock:
            self.db.execute("INSERT INTO outbox (topic, payload, retain) VALUES (?, ?, ?)", (topic, payload, retain))
        self.added.set()

    def head(self, count: int = 50) -> list[tuple[int, str, str, int]]:
        with self.lock:
            return self.db.execute("SELECT seq, topic, payload, retain FROM outbox ORDER BY seq LIMIT ?",
                                   (count,)).fetchall()  # fmt: skip

    def remove(self, seq: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self.lock:
            self.db.close()


class Publisher:
    """Delivers the outbox to the broker, in order, one acknowledged message at a time."""

    def __init__(self, outbox: Outbox, host: str, port: int, prefix: str, username: str = "",
                 password: str = "", log=None, qos: int = 2) -> None:  # fmt: skip
        self.outbox, self.prefix, self.log, self.qos = outbox, prefix, log, qos
        # a persistent session: a message in flight when the broker went down is completed, not repeated, after
        # it returns (QoS 2's handshake is resumed from both sides' stored state)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kestrel-{prefix}",
                                  clean_session=False)  # fmt: skip
        if username:
            self.client.username_pw_set(username, password)
        self.client.will_set(f"{prefix}/available", "offline", qos=1, retain=True)
        self.client.on_connect = self._connected
        self.client.reconnect_delay_set(0.5, 5)
        self.connected = threading.Event()
        self.stop_event = threading.Event()
        self.published = 0
        self.host, self.port = host, port
        self.thread = threading.Thread(target=self._run, name="kestrel-mqtt", daemon=True)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        self.thread.start()

    def _connected(self, client, userdata, flags, reason, properties=None) -> None:
        if not reason.is_failure:
            client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
            self.connected.set()

    def _run(self) -> None:
        """One message in flight at a time, in order. A message handed to paho is never handed again: after a
        reconnect paho re-sends what was in flight itself, so re-publishing it would deliver it twice."""
        inflight: tuple[int, mqtt.MQTTMessageInfo] | None = None
        while not self.stop_event.is_set():
            if inflight is not None:
                seq, info = inflight
                if info.is_published():
                    self.outbox.remove(seq)
                    self.published += 1
                    inflight = None
                else:
                    self.stop_event.wait(0.02)
                continue
            if not self.client.is_connected():
                self.stop_event.wait(0.2)
                continue
            rows = self.outbox.head(1)
            if not rows:
                self.outbox.added.wait(0.5)
                self.outbox.added.clear()
                continue
            seq, topic, payload, retain = rows[0]
            info = self.client.publish(topic, payload, qos=self.qos, retain=bool(retain))
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                inflight = (seq, info)
            else:
                self.stop_event.wait(0.2)

    def stop(self, drain_s: float = 2.0) -> None:
        deadline = time.monotonic() + drain_s
        while len(self.outbox) and self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stop_event.set()
        self.thread.join(timeout=10)
        if self.client.is_connected():
            self.client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()


class MqttSink(Sink):
    """A camera's events as MQTT messages, into the outbox."""

    def __init__(self, camera: str, outbox: Outbox, prefix: str) -> None:
        self.camera, self.outbox, self.prefix = camera, outbox, prefix
        self.last: dict[int, dict] = {}  # an object's previous event: the 'before' of the next one
        self.in_view: Counter = Counter()
        self.outbox.put(f"{prefix}/{camera}/status", "online", retain=True)

    def notice(self, record: dict) -> None:
        kind = record.get("type", "")
        record = {**record, "camera": self.camera}
        if kind in ("new", "update", "end"):
            before = self.last.pop(record["id"], None) if kind == "end" else self.last.get(record["id"])
            if kind != "end":
                self.last[record["id"]] = record
            self.outbox.put(f"{self.prefix}/events", json.dumps({"type": kind, "before": before, "after": record}))
            changed = self._count(kind, record, before)
            for label in changed:
                self.outbox.put(f"{self.prefix}/{self.camera}/{label}", str(self.in_view[label]), retain=True)
            return
        self.outbox.put(f"{self.prefix}/events", json.dumps(record))
        if kind in ("source_lost", "source_back"):
            status = "offline" if kind == "source_lost" else "online"
            self.outbox.put(f"{self.prefix}/{self.camera}/status", status, retain=True)

    def _count(self, kind: str, record: dict, before: dict | None) -> set[str]:
        label, old = record["label"], before["label"] if before else None
        if kind == "new":
            self.in_view[label] += 1
            return {label}
        if kind == "end":
            self.in_view[old or label] -= 1
            return {old or label}
        if old and old != label:
            self.in_view[old] -= 1
            self.in_view[label] += 1
            return {old, label}
        return set()
