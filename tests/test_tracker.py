"""The tracker on synthetic tracks: identities through crossings and occlusions, phantoms, label flicker,
timestamps with gaps; object events; MOTChallenge files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.analytics.events import ObjectEvents
from app.analytics.tracker import Tracker, TrackerConfig
from detector.detections import Detections

NAMES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck")


def dets(*boxes: tuple, names: tuple[str, ...] = NAMES) -> Detections:
    """Boxes as (x1, y1, x2, y2, score, class_id)."""
    if not boxes:
        return Detections.empty(names)
    arr = np.array(boxes, np.float32)
    return Detections(arr[:, :4], arr[:, 4], arr[:, 5].astype(np.int32), names)


def walk(x0: float, y0: float, vx: float, vy: float, t: float, w: float = 30, h: float = 80) -> tuple:
    x, y = x0 + vx * t, y0 + vy * t
    return (x, y, x + w, y + h)


def ids_by_frame(tracker: Tracker, frames: list[Detections], times: list[float]) -> list[dict[int, int]]:
    """For every frame, detection index -> track id of the confirmed track that took it."""
    out = []
    for d, t in zip(frames, times, strict=True):
        shown = tracker.update(d, t)
        out.append({int(np.argmin(np.abs(d.boxes - s.box).sum(1))): s.id for s in shown})
    return out


def test_crossing_paths_keep_their_ids():
    times = [i / 10 for i in range(40)]  # two people walking through each other at 10 fps
    frames = [dets((*walk(0, 100, 60, 0, t), 0.9, 0), (*walk(240, 104, -60, 0, t), 0.9, 0)) for t in times]
    seen = ids_by_frame(Tracker(NAMES), frames, times)
    first = next(s for s in seen if len(s) == 2)
    assert all(s == first for s in seen if len(s) == 2) and len(set(first.values())) == 2


def test_a_one_second_occlusion_is_bridged_and_timestamps_may_have_gaps():
    tracker = Tracker(NAMES)
    ids = set()
    t = 0.0
    while t < 6.0:
        hidden = 2.0 <= t < 3.0  # behind a pillar for a second
        shown = tracker.update(dets() if hidden else dets((*walk(10, 50, 40, 5, t), 0.9, 0)), t)
        ids |= {s.id for s in shown}
        t += 0.1 if t < 4.0 else 0.5  # then the camera drops to 2 fps: the same person, the same track
    assert len(ids) == 1


def test_a_one_frame_false_positive_never_becomes_an_object():
    tracker = Tracker(NAMES)
    events = ObjectEvents(tracker)
    said = []
    for i in range(30):
        boxes = [(*walk(10, 10, 30, 0, i / 10), 0.9, 0)]
        if i == 12:
            boxes.append((300, 300, 340, 380, 0.95, 2))  # a phantom car for one frame
        said += events.step(None, i / 10, tracker.update(dets(*boxes), i / 10))
    said += events.finish(3.0)
    assert [e["type"] for e in said] == ["new", "end"] and said[0]["label"] == "person"


def test_a_van_flickering_between_car_and_truck_is_one_object_with_one_label():
    tracker = Tracker(NAMES, TrackerConfig(high_score=0.35, new_track_score=0.35))  # the app's thresholds
    events = ObjectEvents(tracker)
    said = []
    for i in range(50):
        t = i / 10
        cls, score = (2, 0.41) if i % 3 else (7, 0.37)  # mostly car, sometimes truck
        said += events.step(None, t, tracker.update(dets((*walk(0, 200, 50, 0, t, 120, 70), score, cls)), t))
    said += events.finish(5.0)
    assert {e["id"] for e in said} == {said[0]["id"]}
    assert {e["label"] for e in said} == {"car"}
    assert events.counts == {"car": 1}


def test_object_events_carry_their_fields_and_every_new_has_an_end():
    tracker = Tracker(NAMES, TrackerConfig(stationary_s=1.0))
    events = ObjectEvents(tracker, update_every_s=1.0)
    said = []
    for i in range(40):
        t = i / 10
        boxes = [(*walk(0, 0, 80, 0, min(t, 1.5)), 0.8, 0)]  # walks, then stands still
        if i < 20:
            boxes.append((400, 100, 440, 180, 0.7, 0))
        said += events.step(None, t, tracker.update(dets(*boxes), t))
    said += events.finish(4.0)
    news = [e for e in said if e["type"] == "new"]
    ends = [e for e in said if e["type"] == "end"]
    assert len(news) == 2 and sorted(e["id"] for e in news) == sorted(e["id"] for e in ends)
    for e in said:
        assert {"id", "label", "score", "box", "first_pts_s", "last_pts_s", "frames", "stationary", "path"} <= set(e)
    walker_end = next(e for e in ends if e["id"] == news[0]["id"])
    assert walker_end["stationary"] and walker_end["last_pts_s"] == 3.9 and len(walker_end["path"]) >= 5
    assert any(e["type"] == "update" and e["stationary"] for e in said)


def test_the_tracker_costs_little_at_fifty_objects():
    import time

    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 1000, (50, 2))
    tracker = Tracker(NAMES)
    costs = []
    for i in range(60):
        boxes = [(*walk(x, y, 20, 10, i / 30, 30, 60), 0.8, 0) for x, y in starts]
        frame = dets(*boxes)
        t0 = time.perf_counter()
        tracker.update(frame, i / 30)
        costs.append(time.perf_counter() - t0)
    assert float(np.median(costs[10:])) < 0.01  # the benchmark measures the real figure; this guards a blow-up


def test_kestrel_run_writes_object_events_snapshots_and_counts_distinct_objects(tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    events, mot = tmp_path / "ev.jsonl", tmp_path / "tracks.txt"
    done = subprocess.run([sys.executable, "-m", "app.cli", "run", str(ROOT / "assets" / "sample.mp4"), "--events",
                           str(events), "--mot", str(mot)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in events.read_text().splitlines()]
    news = {e["id"]: e for e in records if e["type"] == "new"}
    ends = {e["id"]: e for e in records if e["type"] == "end"}
    assert news and set(news) == set(ends)  # every new has its end by the end of the file
    for e in records:
        assert e["type"] in ("new", "update", "end")
        assert {"id", "label", "score", "box", "first_pts_s", "last_pts_s", "frames", "stationary", "path"} <= set(e)
        assert all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in e["snapshot"].values())
    distinct = {}
    for e in ends.values():
        distinct[e["label"]] = distinct.get(e["label"], 0) + 1
    said = next(line for line in done.stdout.splitlines() if line.strip().startswith("objects:"))
    assert all(f"{n} {label}" in said for label, n in distinct.items())
    rows = [line.split(",") for line in mot.read_text().splitlines()]
    assert rows and {int(r[1]) for r in rows} == set(news) and all(1 <= int(r[0]) <= 100 for r in rows)
