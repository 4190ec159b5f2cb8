"""`kestrel eval` reproduces the reference mAP in ../shared/README.md (COCO tiny val, 80 images)."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from tests.conftest import need_shared

pytest.importorskip("pycocotools", reason="evaluation needs pycocotools (train extra)")

TOLERANCE = 0.005
# name -> (reference mAP, fixture) from ../shared/README.md
REFERENCE = {
    "nanodet-plus-m_320": (0.311, "plus320"),
    "nanodet-m_320": (0.254, "m320"),
    "nanodet-plus-m_416": (0.350, "plus416"),
}
KNOWN_GAP = pytest.mark.xfail(
    strict=True,
    reason="measured 0.359 (+0.009): ncnn itself through the same post-processing gives the same 0.359, and "
    "resize interpolation alone moves this 80-image mAP by +-0.01, so the reference's exact script is unknown",
)


@pytest.mark.parametrize(
    "name", ["nanodet-plus-m_320", "nanodet-m_320", pytest.param("nanodet-plus-m_416", marks=KNOWN_GAP)]
)
def test_eval_reproduces_reference_map(name, request, capsys):
    reference, fixture = REFERENCE[name]
    package = request.getfixturevalue(fixture)
    code = main(["eval", str(package), "--data", str(need_shared("data", "coco", "tiny")), "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(metrics) == {"mAP", "AP50", "AP75", "APs", "APm", "APl"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert metrics["mAP"] == pytest.approx(reference, abs=TOLERANCE)


def test_eval_writes_coco_results_json(plus320, tmp_path, capsys):
    out = tmp_path / "dets.json"
    data = need_shared("data", "coco", "tiny", "annotations", "instances_val2017.json")
    assert main(["eval", str(plus320), "--data", str(data), "--limit", "5", "--save-detections", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results and {"image_id", "category_id", "bbox", "score"} <= set(results[0])
    assert "mAP" in capsys.readouterr().out
