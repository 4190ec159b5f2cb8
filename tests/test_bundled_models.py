"""The models in assets/ and `make run`'s demo: what the README and MODEL_CARD promise of them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.models import DEFAULT, DENSE, SPARSE
from tests.conftest import ROOT, need_shared

NO_TORCH = "import sys; sys.modules['torch'] = None; "  # any `import torch` now raises ImportError


def test_bundled_packages_exist_and_the_default_is_one_of_them():
    assert DENSE.is_file() and SPARSE.is_file()
    assert DEFAULT in (DENSE, SPARSE)


def test_the_sparse_package_is_2_of_4_on_every_eligible_layer_and_the_dense_one_is_not():
    from detector.sparsity_report import sparsity_report

    sparse = [r for r in sparsity_report(SPARSE) if r.eligible]
    dense = [r for r in sparsity_report(DENSE) if r.eligible]
    assert len(sparse) == len(dense) >= 40
    assert all(r.compliance == 1.0 for r in sparse)
    assert sum(r.compliance == 1.0 for r in dense) == 0


# MODEL_CARD reports 0.192 (dense) and 0.135 (2:4) on COCO tiny val, 0.503 and 0.476 on highway-od val; the
# floors sit a little below, to catch a wrong or damaged file, not noise
SETS = {
    "coco-tiny": (("coco", "tiny", "annotations", "instances_val2017.json"), ("coco", "tiny", "val2017")),
    "highway-od": (("highway-od", "annotations", "instances_val.json"), ("highway-od", "val")),
}
FLOORS = [("dense", "coco-tiny", 0.18), ("dense", "highway-od", 0.48), ("2of4", "coco-tiny", 0.12),
          ("2of4", "highway-od", 0.45)]  # fmt: skip


@pytest.mark.parametrize("model,name,floor", FLOORS, ids=[f"{m}-{n}" for m, n, _ in FLOORS])
def test_the_bundled_models_meet_their_accuracy_floors(model, name, floor):
    annotations, images = SETS[name]
    from detector import Detector
    from trainer.coco_eval import CocoSplit, evaluate

    split = CocoSplit(need_shared("data", *annotations), need_shared("data", *images))
    det = Detector.load(DENSE if model == "dense" else SPARSE, conf=0.05, iou=0.6, max_det=100, threads=2)
    assert evaluate(det, split, progress=False)["mAP"] >= floor


def test_make_run_demo_writes_a_recording_and_events_without_torch(tmp_path):
    code = NO_TORCH + f"import runpy; sys.argv = ['demo', '--out', {str(tmp_path)!r}]; " \
        "runpy.run_module('app.demo', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"results in {tmp_path}" in proc.stdout
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    people = {e["id"] for e in events if e["type"] == "new" and e["label"] == "person"}
    assert len(people) >= 3  # the sample clip is people walking in a hall: objects, one event each at the start
    assert {e["id"] for e in events if e["type"] == "end"} >= people
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec

    cap = GstCapture(SourceSpec.parse(str(tmp_path / "sample-annotated.mkv"))).open()
    try:
        frames = sum(1 for _ in cap)
    finally:
        cap.close()
    assert frames == 100  # 10 s at 10 fps: a file source loses nothing


@pytest.mark.parametrize("package", [DENSE, SPARSE], ids=["dense", "2of4"])
def test_bundled_packages_load_and_detect_without_torch(package):
    code = NO_TORCH + (
        "import cv2; from detector import Detector; "
        f"det = Detector.load({str(package)!r}); "
        f"cap = cv2.VideoCapture({str(ROOT / 'assets' / 'sample.mp4')!r}); ok, frame = cap.read(); "
        "d = det(frame); print(det.meta.name, len(d))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name, count = proc.stdout.split()
    assert name == package.stem and int(count) > 0
