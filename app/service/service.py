"""The surveillance service: cameras, the shared batching detector and the HTTP side, started and stopped
together."""

from __future__ import annotations

import sys
import threading

from detector.detector import Detector

from ..gst import preload_capture
from .batcher import BatchingDetector, default_batch
from .camera import Camera
from .config import ServiceConfig
from .failover import FailoverDetector
from .http_api import make_server
from .metrics import make_registry
from .mqtt_out import MqttSink, Outbox, Publisher
from .retention import Retention
from .store import EventStore, StoreSink

LABEL_IOU = 0.7  # one label per object, as kestrel run


class Service:
    def __init__(self, config: ServiceConfig, model, log=sys.stderr) -> None:
        self.config, self.log = config, log
        self.stop_event = threading.Event()
        options = {"conf": 0.1, "iou": config.detect.iou, "label_iou": LABEL_IOU}  # weak boxes too: tracking
        if config.fallback:
            fallback = Detector.load(config.path(config.fallback), **options)
            detector = self.failover = FailoverDetector(str(model), fallback, log, **options)
        else:
            detector, self.failover = Detector.load(model, **options), None
        max_frames = config.batch.max_frames or default_batch(detector)
        self.batcher = BatchingDetector(detector, max_frames, config.batch.timeout_ms / 1000)
        self.registry, latency, size = make_registry(self)

        def observed(batch: int, seconds: float) -> None:
            latency.observe(seconds)
            size.observe(batch)

        self.batcher.on_batch = observed
        self.outbox, self.publisher = None, None
        self.store = EventStore(config.path(config.storage.path) / "events.sqlite")
        self.latest = {name: StoreSink(name, self.store) for name in config.cameras}
        sinks = {name: [self.latest[name]] for name in config.cameras}
        if config.mqtt is not None:
            m = config.mqtt
            self.outbox = Outbox(config.path(config.storage.path) / "outbox.sqlite")
            password = config.path(m.password_file).read_text().strip() if m.password_file else ""
            self.publisher = Publisher(self.outbox, m.host, m.port, m.topic_prefix, m.username, password, log, m.qos)
            for name in config.cameras:
                sinks[name].append(MqttSink(name, self.outbox, m.topic_prefix))
        preload_capture()  # before any camera's pipeline runs
        self.cameras = {name: Camera(name, config, self.batcher, log, sinks[name]) for name in config.cameras}
        storage = config.storage
        self.retention = Retention(config.path(storage.path), storage.retain_days, storage.max_gb, log=log)
        for camera in self.cameras.values():
            if camera.clips is not None:
                camera.clips.on_cut = self.retention.poke
        self.server = None

    def ready(self) -> bool:
        return all(c.pipeline.stats["detect"].count > 0 for c in self.cameras.values())

    def start(self) -> None:
        http = self.config.http
        self.server = make_server(self, http.bind, http.port, http.token)
        if self.publisher is not None:
            self.publisher.start()
        self.retention.start()
        for camera in self.cameras.values():
            camera.start()
        host, port = self.server.server_address[:2]
        print(f"kestrel serve: {len(self.cameras)} cameras; http://{host}:{port}/metrics", file=self.log, flush=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.retention.stop()
        for camera in self.cameras.values():
            camera.stop()
        for camera in self.cameras.values():
            camera.join(5.0)
        self.batcher.stop()
        if self.publisher is not None:
            self.publisher.stop()
            self.outbox.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.store.close()
