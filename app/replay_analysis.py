"""The analysis pass of dashcam replay: detector + tracker (+ camera-motion compensation, close-approach
warnings, rules) over a whole file, kept in a sidecar so a second open of the same file is instant.

The sidecar (JSON) holds per-second counts per class (the most objects of that class in view at once in that
second), every object's track (id, label, first/last pts, best snapshot) and every event, numbered from 1 (the
numbers ``kestrel replay FILE --event N`` takes). It lives in a cache folder keyed by a hash of the file's
content and the analysis settings: the footage's own folder (often a read-only card) is never written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import KestrelError

from .analytics.approach import ApproachConfig, CloseApproach
from .analytics.camera_motion import CameraMotion
from .analytics.objects import ObjectStage
from .analytics.rules_file import Rules
from .capture.gst_capture import GstCapture
from .capture.spec import SourceSpec

VERSION = 2  # of the sidecar: its layout and the tracking that fills it; older sidecars are recomputed
MARKED = ("close_approach", "line_cross", "zone_enter", "loiter", "occupancy_start")  # worth a look, on the timeline
VULNERABLE = ("person", "bicycle")  # their "new" is worth a look too: someone stepping out


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kestrel" / "analysis"


def file_key(path: Path, chunk: int = 4 << 20) -> str:
    """A hash of the file's size, first and last 4 MiB: cheap on a 4 GB drive file, and a re-encoded or cut
    copy never shares it."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(chunk))
        if size > chunk:
            f.seek(max(size - chunk, chunk))
            h.update(f.read(chunk))
    return h.hexdigest()[:24]


@dataclass
class Analysis:
    file: str
    key: str
    settings: dict
    duration_s: float = 0.0
    frames: int = 0
    width: int = 0
    height: int = 0
    counts: dict[str, list[int]] = field(default_factory=dict)  # label -> most in view, per second
    tracks: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # each with "event": its number, from 1
    camera_moving_share: float = 0.0  # frames where camera-motion compensation was applied
    seconds: float = 0.0  # how long the analysis took

    def to_json(self) -> dict:
        return {"version": VERSION, **self.__dict__}

    @classmethod
    def from_json(cls, data: dict) -> Analysis:
        data = {k: v for k, v in data.items() if k != "version"}
        return cls(**data)

    def event(self, number: int) -> dict:
        if not 1 <= number <= len(self.events):
            raise KestrelError(f"no event {number}: this file's analysis has events 1..{len(self.events)}")
        return self.events[number - 1]

    def marked(self) -> list[dict]:
        return [e for e in self.events if e["type"] in MARKED or (e["type"] == "new" and e["label"] in VULNERABLE)]


def sidecar_for(path: Path, settings: dict) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return cache_folder() / f"{file_key(path)}-{digest}.json"


def load(sidecar: Path) -> Analysis | None:
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    try:
        return Analysis.from_json(data)
    except TypeError:
        return None


def analyse(path: Path, detector, settings: dict, rules: Rules | None = None, sidecar: Path | None = None,
            progress=None, stop=None) -> Analysis:  # fmt: skip
    """Run the whole file; ``settings`` (cmc, conf, ttc_s, model) are part of the sidecar's key. ``progress`` is
    called with (pts seconds, duration seconds); ``stop`` (an Event) ends early, and nothing is saved then."""
    spec = SourceSpec.parse(str(path))
    if spec.kind != "file":
        raise KestrelError("the analysis pass takes a video file")
    sidecar = sidecar or sidecar_for(path, settings)
    names = detector.class_names
    approach = CloseApproach(names, ApproachConfig(ttc_s=settings.get("ttc_s", 2.0)))
    motion = CameraMotion(settings.get("cmc", "auto"))
    snapshots = sidecar.with_suffix(".events.jsonl")
    stage = ObjectStage(names, settings.get("conf", 0.35), path.name, snapshots, rules=rules, motion=motion,
                        approach=approach)  # fmt: skip
    shown_conf, detector.conf = detector.conf, stage.detector_conf  # weak boxes too, for the tracker
    result = Analysis(str(path), sidecar.stem, settings)
    per_second: dict[str, dict[int, int]] = defaultdict(dict)
    events, moved, t0 = [], 0, time.monotonic()
    cap = GstCapture(spec).open()
    duration = (cap.duration_ns or 0) / 1e9
    try:
        for frame in cap:
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            drawn, records = stage.step(frame, detector(frame.image))
            moved += motion.moving
            events += records
            second = int(frame.pts_ns // 1_000_000_000)
            in_view: dict[str, int] = defaultdict(int)
            for label in drawn.labels:
                in_view[label] += 1
            for label, n in in_view.items():
                per_second[label][second] = max(per_second[label].get(second, 0), n)
            result.frames += 1
            result.width, result.height = frame.width, frame.height
            result.duration_s = max(result.duration_s, frame.pts_ns / 1e9)
            if progress is not None:
                progress(frame.pts_ns / 1e9, duration)
    finally:
        cap.close()
        detector.conf = shown_conf
    events += stage.finish()
    seconds = math.ceil(result.duration_s + 1e-9) or 1
    result.counts = {label: [by.get(s, 0) for s in range(seconds)] for label, by in sorted(per_second.items())}
    ends = {e["id"]: e for e in events if e["type"] == "end"}
    result.tracks = [{"id": e["id"], "label": e["label"], "first_pts_s": e["first_pts_s"],
                      "last_pts_s": e["last_pts_s"], "snapshot": e.get("snapshot")} for e in ends.values()]  # fmt: skip
    result.events = [{"event": n, **e} for n, e in enumerate(sorted(events, key=lambda e: e["pts_s"]), start=1)]
    result.camera_moving_share = round(moved / max(result.frames, 1), 3)
    result.seconds = round(time.monotonic() - t0, 2)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    partial = sidecar.with_suffix(".partial")
    partial.write_text(json.dumps(result.to_json()))
    partial.replace(sidecar)
    return result
