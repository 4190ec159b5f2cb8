"""Zones, lines and masks on synthetic tracks; the rules file's errors; a rules run on a real clip."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from app.analytics.objects import ObjectStage
from app.analytics.rules import RuleEngine
from app.analytics.rules_file import RulesError, parse_rules
from app.frame import Frame
from detector.detections import Detections
from tests.conftest import ROOT, need_shared

NAMES = ("person", "bicycle", "car")


@dataclass
class T:  # what the rule engine reads of a track
    id: int
    box: np.ndarray


def engine(rules: dict) -> RuleEngine:
    e = RuleEngine(parse_rules(rules, NAMES), NAMES)
    e.bind(1000, 1000)
    return e


def walk(e: RuleEngine, points: list[tuple[float, float]], dt: float = 0.1, track_id: int = 1) -> list[dict]:
    """The track's anchor (bottom centre) through ``points``, one per frame."""
    events = []
    for i, (x, y) in enumerate(points):
        events += e.step(i * dt, [T(track_id, np.array([x - 10, y - 40, x + 10, y]))], ["person"])
    return events


LINE = {"lines": [{"name": "door", "points": [[500, 100], [500, 900]]}]}


def stay(x: float, frames: int = 6) -> list[tuple[float, float]]:
    return [(x, 500)] * frames


def test_jitter_across_a_line_counts_once_per_direction():
    e = engine(LINE)
    path = [(400, 500), (480, 500)] + [(498 + 4 * (i % 2), 500) for i in range(20)]  # shaking on the line
    path += [(460, 500), (540, 500)] * 4  # swapping sides faster than a crossing settles (0.5 s)
    path += stay(600) + stay(480) + stay(400) + stay(600) + stay(400) + stay(600)
    crossings = [ev for ev in walk(e, path) if ev["type"] == "line_cross"]
    assert [c["direction"] for c in crossings] == ["out", "in"]  # once per object and direction
    every = engine({"lines": [{**LINE["lines"][0], "count": "every"}]})
    assert len([ev for ev in walk(every, path) if ev["type"] == "line_cross"]) == 5


def test_an_object_that_jumps_over_the_line_between_two_frames_counts():
    crossings = [ev for ev in walk(engine(LINE), [(100, 500), *stay(900)]) if ev["type"] == "line_cross"]
    assert len(crossings) == 1 and crossings[0]["out"] == 1
    e = engine(LINE)  # and one that ends right after crossing (it left the frame) still counts
    assert not [ev for ev in walk(e, [(100, 500), (900, 500)]) if ev["type"] == "line_cross"]
    assert [ev["direction"] for ev in e.end(1, "person", 0.2) if ev["type"] == "line_cross"] == ["out"]


def test_passing_the_lines_extension_outside_the_segment_does_not_count():
    path = stay(400) + [(400, 950)] * 6 + [(600, 950)] * 6 + [(600, 50)] * 6 + [(400, 50)] * 6
    assert not [ev for ev in walk(engine(LINE), path) if ev["type"] == "line_cross"]


def test_leaving_and_reentering_a_zone_gives_two_entries_with_their_dwell():
    e = engine({"zones": [{"name": "z", "polygon": [[200, 200], [800, 200], [800, 800], [200, 800]]}]})
    path = [(100, 500)] + [(500, 500)] * 10 + [(900, 500)] * 5 + [(500, 500)] * 5 + [(900, 500)]
    events = [ev for ev in walk(e, path) if ev["type"].startswith("zone")]
    assert [ev["type"] for ev in events] == ["zone_enter", "zone_exit", "zone_enter", "zone_exit"]
    assert events[1]["dwell_s"] == pytest.approx(1.0) and events[3]["dwell_s"] == pytest.approx(0.5)


def test_occupancy_starts_and_ends_once_and_loitering_is_said_once():
    e = engine({"zones": [{"name": "q", "polygon": [[0, 0], [1000, 0], [1000, 1000], [0, 1000]], "occupancy": 3,
                           "loiter_s": 1.0}]})  # fmt: skip
    events = []
    for i in range(40):
        count = [1, 2, 3, 4, 3, 2, 1][min(i // 6, 6)]
        tracks = [T(k, np.array([100 * k, 100, 100 * k + 20, 200])) for k in range(1, count + 1)]
        events += e.step(i * 0.1, tracks, ["person"] * count)
        for k in range(count + 1, 5):
            if k in e.visits["q"]:
                events += e.end(k, "person", i * 0.1)
    kinds = [ev["type"] for ev in events]
    assert kinds.count("occupancy_start") == 1 and kinds.count("occupancy_end") == 1
    assert kinds.count("loiter") == len({ev["id"] for ev in events if ev["type"] == "loiter"})


def test_a_masked_detection_never_becomes_an_object():
    stage = ObjectStage(NAMES, 0.35, rules=parse_rules({"masks": [{"polygon": [[0.7, 0.0], [1.0, 0.0], [1.0, 0.3],
                                                                                [0.7, 0.3]]}]}, NAMES))  # fmt: skip
    image = np.zeros((100, 200, 3), np.uint8)
    said = []
    for i in range(20):
        boxes = np.array([[150, 5, 180, 25], [20, 40, 40, 90]], np.float32)  # a "truck" sign in the mask, a person
        d = Detections(boxes, np.array([0.9, 0.8], np.float32), np.array([2, 0], np.int32), NAMES)
        said += stage.step(Frame(image, int(i * 1e8), i, "t"), d)[1]
    said += stage.finish()
    assert {e["label"] for e in said if e["type"] == "new"} == {"person"}


@pytest.mark.parametrize("rules, fragment", [
    ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}, "at least 3 points"),
    ({"lines": [{"name": "l", "points": [[0, 0], [1, 1], [0, 1]]}]}, "exactly 2 points"),
    ({"lines": [{"name": "l", "points": [[0, 0], [1, 1]], "classes": ["unicorn"]}]}, "unknown class 'unicorn'"),
    ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "colour": "red"}]}, "unknown key 'colour'"),
    ({"lanes": []}, "unknown key 'lanes'"),
])  # fmt: skip
def test_a_bad_rules_file_is_one_clear_error(rules, fragment):
    with pytest.raises(RulesError, match=fragment):
        parse_rules(rules, NAMES)


def test_errors_through_kestrel_run_including_points_outside_the_frame(tmp_path):
    import yaml

    cases = {"outside": ({"lines": [{"name": "far", "points": [[10, 10], [5000, 10]]}]}, "outside the 768x576 frame"),
             "polygon": ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}, "at least 3 points")}  # fmt: skip
    for name, (rules, fragment) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(rules))
        done = subprocess.run([sys.executable, "-m", "app.cli", "run", str(ROOT / "assets" / "sample.mp4"), "--rules",
                               str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
        errors = [line for line in done.stderr.splitlines() if line.startswith("kestrel: error:")]
        assert done.returncode == 2 and len(errors) == 1 and fragment in errors[0], done.stderr[-1000:]


def test_line_counts_in_events_equal_the_final_counts_on_a_road_clip(tmp_path):
    clip = need_shared("data", "videos", "highway-720p.mp4")
    rules = tmp_path / "road.yaml"
    rules.write_text("lines:\n  - name: across\n    points: [[0.05, 0.6], [0.95, 0.6]]\n"
                     "    classes: [car, truck, bus]\n")
    events = tmp_path / "ev.jsonl"
    done = subprocess.run([sys.executable, "-m", "app.cli", "run", str(clip), "--rules", str(rules), "--events",
                           str(events)], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    crossings = [e for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "line_cross"]
    assert len(crossings) >= 3  # a busy highway: cars cross a line across the road
    last = crossings[-1]
    said = next(line.strip() for line in done.stdout.splitlines() if line.strip().startswith("across:"))
    assert said == f"across: in {last['in']} out {last['out']}"  # what the HUD shows at the end
    counts = json.loads((tmp_path / "ev-counts.json").read_text())["lines"]["across"]
    assert sum(counts["in"].values()) == last["in"] and sum(counts["out"].values()) == last["out"]


def test_counts_on_the_ground_truth_sequence_stay_within_a_tenth_of_the_reference(tmp_path):
    """benchmarks/counting.py's lines on PETS09-S2L1: Kestrel's own detector, tracker and rules against the
    counts the ground-truth tracks give (measured: 8 of 89 with the bundled default model)."""
    need_shared("data", "mot", "PETS09-S2L1", "vtest.avi")
    from benchmarks.counting import kestrel_counts, reference_counts

    reference, counted = reference_counts(768, 576), kestrel_counts(tmp_path)
    total = sum(sum(v.values()) for v in reference.values())
    error = sum(abs(counted[n][d] - r) for n, v in reference.items() for d, r in v.items())
    assert total == 89 and error <= 0.1 * total
