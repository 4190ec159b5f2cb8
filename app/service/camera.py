"""One camera of the service: its capture pipeline (live policy, reconnects, sampling at detect.fps), its
tracker and rules, its events file — around the shared detector."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from detector.detections import Detections

from ..analytics.objects import ObjectStage
from ..analytics.rules_file import load_rules, parse_rules
from ..capture.spec import SourceSpec
from ..pipeline import Pipeline
from ..sinks.adapters import EventSink
from .batcher import BatchingDetector
from .clips import ClipSink, SegmentRing
from .config import ServiceConfig


class _LogLines:
    """The pipeline's log lines, prefixed with the camera's name."""

    def __init__(self, name: str, log) -> None:
        self.name, self.log = name, log

    def write(self, text: str) -> None:
        if text.strip():
            print(f"[{self.name}] {text.strip()}", file=self.log, flush=True)

    def flush(self) -> None: ...


class _ClassFilter:
    """The shared detector's output, narrowed to this camera's classes."""

    def __init__(self, detect, wanted: set[int] | None) -> None:
        self.detect, self.wanted = detect, wanted

    def __call__(self, image: np.ndarray) -> Detections:
        found = self.detect(image)
        if self.wanted is None or not len(found):
            return found
        return found[np.isin(found.class_ids, sorted(self.wanted))]


class Camera:
    def __init__(self, name: str, config: ServiceConfig, batcher: BatchingDetector, log, extra_sinks=()) -> None:
        cam = config.cameras[name]
        self.name, self.config = name, config
        detect = config.camera_detect(name)
        names = batcher.detector.class_names
        unknown = [c for c in cam.classes if c not in names]
        if unknown:
            from detector.typed_config import ConfigError

            raise ConfigError(f"cameras.{name}.classes: unknown class '{unknown[0]}'")
        wanted = {names.index(c) for c in cam.classes} if cam.classes else None
        rules = None
        if isinstance(cam.rules, str):
            rules = load_rules(config.path(cam.rules), names)
        elif isinstance(cam.rules, dict):
            rules = parse_rules(cam.rules, names, f"cameras.{name}.rules")
        self.spec = SourceSpec.parse(cam.source)
        storage = config.path(config.storage.path)
        self.events_path = storage / "events" / f"{name}.jsonl"
        self.clips, options = None, {}
        if cam.record.events and self.spec.kind == "rtsp":
            ring = SegmentRing(storage / "segments" / name, cam.record.keep_s)
            self.clips = ClipSink(ring, storage / "clips" / name, cam.record.pre_s, cam.record.post_s)
            options["ring"] = ring
        clip_for = (lambda oid: str(self.clips.path_for(oid))) if self.clips else None
        self.objects = ObjectStage(names, detect.conf, name, self.events_path, rules=rules, clip_for=clip_for)
        self.sink = EventSink(self.events_path, append=True)
        sinks = [self.sink, *([self.clips] if self.clips else []), *extra_sinks]
        self.pipeline = Pipeline(self.spec, _ClassFilter(batcher.client(name), wanted), sinks, objects=self.objects,
                                 reconnect=True, log=_LogLines(name, log), sample_fps=detect.fps,
                                 capture_options=options)  # fmt: skip
        self.log = log
        self.thread = threading.Thread(target=self._run, name=f"kestrel-camera-{name}", daemon=True)
        self.error = ""

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.pipeline.stop.set()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        summary = self.pipeline.run()
        self.error = summary.error
        if self.error and not self.pipeline.stop.is_set():
            print(f"[{self.name}] camera stopped: {self.error}", file=self.log, flush=True)

    @property
    def events_file(self) -> Path:
        return self.events_path

    def status(self) -> dict:
        s = self.pipeline.stats
        return {"name": self.name, "source": self.spec.name, "streaming": self.pipeline.streaming,
                "frames_decoded": s["capture"].count, "frames_detected": s["detect"].count,
                "frames_dropped": self.pipeline.dropped, "reconnects": self.pipeline.reconnects,
                "events": self.sink.log.count, "objects": dict(self.objects.events.counts),
                "error": self.error}  # fmt: skip
