"""scripts/record_curve.py: a run's evaluation curve written from its own training state."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "record_curve.py"


def record(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_curve_comes_from_the_runs_history_with_each_val_set_named(tmp_path):
    run = tmp_path / "run"
    (run / "last").mkdir(parents=True)
    state = {"epoch": 6, "config": {"optim": {"epochs": 15},
                                    "data": {"val": [{"name": "coco-tiny"}, {"name": "highway-od"}]}},
             "history": [{"epoch": 3, "mAP": 0.11679, "AP50": 0.19727, "APs": 0.03, "highway-od/mAP": 0.44114},
                         {"epoch": 6, "mAP": 0.125, "AP50": 0.2, "highway-od/mAP": 0.452}]}  # fmt: skip
    (run / "last" / "trainer.json").write_text(json.dumps(state))
    out = tmp_path / "curve.json"
    done = record(str(run), "--what", "a test run", "--how", "kestrel train x.yaml", "--json", str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    assert written["status"] == "paused (resumable): 6 of 15 epochs"
    assert written["curve"][0] == {"epoch": 3, "coco_tiny_mAP": 0.1168, "coco_tiny_AP50": 0.1973,
                                   "highway_od_mAP": 0.4411}  # fmt: skip
    assert "0.4520" in done.stdout


def test_a_folder_without_a_run_is_refused_clearly(tmp_path):
    done = record(str(tmp_path), "--what", "x", "--how", "y", "--json", str(tmp_path / "c.json"))
    assert done.returncode != 0 and "no training state" in done.stderr
    assert not (tmp_path / "c.json").exists()
