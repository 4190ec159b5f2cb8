"""One label per object on the app path; multi-label output kept for COCO scoring."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.analytics.geometry import iou_matrix
from app.commands.run_cmd import LABEL_IOU
from tests.conftest import ROOT, need_shared

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")

MODEL = ROOT / "assets" / "kestrel-lite0-320.onnx"
ROAD_CLIPS = ["highway-720p.mp4", "traffic-cam-640x360.mp4", "dashcam-640x360.mp4", "intel-car-detection.mp4",
              "bgs-cctv-highway-320x240.avi", "dashcam-crash-320x180.mp4"]  # fmt: skip


def cross_class_overlaps(dets, threshold: float = 0.7) -> int:
    iou = iou_matrix(dets.boxes, dets.boxes)
    return sum(1 for i, j in itertools.combinations(range(len(dets)), 2)
               if dets.class_ids[i] != dets.class_ids[j] and iou[i, j] >= threshold)  # fmt: skip


def test_no_box_holds_two_classes_on_the_app_path():
    from detector.detector import Detector
    from trainer.data.video import VideoFramesSource

    app = Detector.load(MODEL, conf=0.1, label_iou=LABEL_IOU)  # what kestrel run's tracker is fed
    multi = Detector.load(MODEL, conf=0.1)
    app_pairs = multi_pairs = 0
    for clip in ROAD_CLIPS:
        for sample in VideoFramesSource(need_shared("data", "videos", clip), 25, app.class_names, max_side=1280):
            app_pairs += cross_class_overlaps(app(sample.image))
            multi_pairs += cross_class_overlaps(multi(sample.image))
    assert multi_pairs > 0  # the multi-label output does hold such pairs on these clips...
    assert app_pairs == 0  # ...the app's never


def test_eval_keeps_the_multi_label_output(capsys):
    pytest.importorskip("pycocotools", reason="evaluation needs pycocotools")
    import json

    from app.cli import main
    from detector.detector import Detector
    from trainer.coco_eval import evaluate, resolve_split

    tiny = need_shared("data", "coco", "tiny")
    assert main(["eval", str(MODEL), "--data", str(tiny), "--limit", "30", "--json"]) == 0
    said = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    split = resolve_split(tiny)
    multi = evaluate(Detector.load(MODEL, conf=0.05, max_det=100), split, 30, progress=False)
    single = evaluate(Detector.load(MODEL, conf=0.05, max_det=100, label_iou=LABEL_IOU), split, 30, progress=False)
    assert said["mAP"] == round(multi["mAP"], 4) and np.isclose(said["AP50"], multi["AP50"], atol=1e-4)
    assert single["mAP"] != multi["mAP"]  # the setting matters, and eval does not use it
