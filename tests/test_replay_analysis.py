"""Dashcam replay's analysis pass on the shared clips: a close approach before the crash, none in steady traffic,
the cached second open, and an incident exported by its event number."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, need_shared

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")
IMPACT_S = 2.9  # dashcam-crash-320x180.mp4: the rolling car reaches the truck's bumper (read off its frames)


def kestrel(*args: str, cache) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip


def test_the_crash_is_flagged_before_impact_and_a_second_open_is_cached(tmp_path):
    clip = need_shared("data", "videos", "dashcam-crash-320x180.mp4")
    first = kestrel("replay", str(clip), "--analyse", cache=tmp_path)
    assert first.returncode == 0, first.stderr[-1500:]
    sidecars = list((tmp_path / "kestrel" / "analysis").glob("*.json"))
    assert len(sidecars) == 1
    analysis = json.loads(sidecars[0].read_text())
    warnings = [e for e in analysis["events"] if e["type"] == "close_approach"]
    assert warnings and warnings[0]["pts_s"] < IMPACT_S, warnings
    assert warnings[0]["ttc_s"] < 2.0 and warnings[0]["label"] in ("car", "truck", "bus")
    assert "close_approach" in first.stdout and f"{warnings[0]['event']:5d}" in first.stdout
    assert analysis["counts"]["car"] and max(analysis["counts"]["car"]) >= 2  # per-second counts per class
    assert all(t["first_pts_s"] <= t["last_pts_s"] for t in analysis["tracks"])
    stamp = sidecars[0].stat().st_mtime_ns
    second = kestrel("replay", str(clip), "--analyse", cache=tmp_path)
    assert second.returncode == 0 and "(cached)" in second.stderr
    assert sidecars[0].stat().st_mtime_ns == stamp and second.stdout == first.stdout
    # the incident: event N with 1 s either side, overlay burned in, and the events of that range beside it
    out = tmp_path / "incident.mp4"
    done = kestrel("replay", str(clip), "--event", str(warnings[0]["event"]), "--export", str(out), "--pre", "1",
                   "--post", "1", cache=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec

    frames = list(GstCapture(SourceSpec.parse(str(out))).open())
    assert 40 <= len(frames) <= 50  # 2 s of the 24 fps clip
    listed = json.loads((tmp_path / "incident.mp4.events.json").read_text())
    assert warnings[0]["event"] in [e["event"] for e in listed]
    assert all(abs(e["pts_s"] - warnings[0]["pts_s"]) <= 1.0 for e in listed)


@pytest.mark.parametrize("name", ["highway-720p.mp4", "traffic-cam-640x360.mp4"])
def test_steady_traffic_raises_no_close_approach(tmp_path, name, monkeypatch):
    from app.commands.run_cmd import LABEL_IOU
    from app.models import DEFAULT
    from app.replay_analysis import analyse
    from detector.detector import Detector

    clip = need_shared("data", "videos", name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    detector = Detector.load(DEFAULT, conf=0.35, label_iou=LABEL_IOU)
    result = analyse(clip, detector, {"cmc": "auto", "conf": 0.35, "ttc_s": 2.0})
    assert result.frames > 400 and len(result.tracks) >= 5  # it did see the traffic
    assert [e for e in result.events if e["type"] == "close_approach"] == []


def test_bad_requests_are_one_clear_line(tmp_path):
    clip = need_shared("data", "videos", "dashcam-crash-320x180.mp4")
    no_export = kestrel("replay", str(clip), "--event", "3", cache=tmp_path)
    assert no_export.returncode == 2 and "--event needs --export" in no_export.stderr
    missing = kestrel("replay", str(clip), "--event", "999", "--export", str(tmp_path / "x.mp4"), cache=tmp_path)
    assert missing.returncode == 2 and "no event 999" in missing.stderr
    assert not (tmp_path / "x.mp4").exists()
    bad = kestrel("replay", str(clip), "--analyse", "--cmc", "maybe", cache=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
