"""`kestrel eval` finds the images of the dataset layouts people have, and scores each the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import ROOT, need_shared

pytest.importorskip("pycocotools", reason="evaluation needs pycocotools (the train extra)")

MODEL = ROOT / "assets" / "kestrel-lite0-320.onnx"


def layouts(tmp: Path) -> dict[str, list[str]]:
    """COCO tiny val laid out four ways (images hard-linked or copied); each entry is the eval arguments."""
    tiny = need_shared("data", "coco", "tiny")
    ann, images = tiny / "annotations" / "instances_val2017.json", sorted((tiny / "val2017").glob("*.jpg"))

    def place(folder: Path) -> None:
        folder.mkdir(parents=True)
        for image in images:
            try:
                (folder / image.name).hardlink_to(image)
            except OSError:
                shutil.copy(image, folder / image.name)

    coco = tmp / "coco"  # DIR/annotations/instances_val2017.json + DIR/val2017/
    (coco / "annotations").mkdir(parents=True)
    shutil.copy(ann, coco / "annotations" / ann.name)
    place(coco / "val2017")
    ultra = tmp / "ultralytics"  # DIR/annotations/... + DIR/images/val2017/ (and a decoy DIR/images/train2017/)
    (ultra / "annotations").mkdir(parents=True)
    shutil.copy(ann, ultra / "annotations" / ann.name)
    place(ultra / "images" / "val2017")
    (ultra / "images" / "train2017").mkdir()
    beside = tmp / "json-images"  # a json path, images in images/ next to it
    beside.mkdir()
    shutil.copy(ann, beside / "val.json")
    place(beside / "images")
    override = tmp / "override"  # nothing to find: --images names the folder
    override.mkdir()
    shutil.copy(ann, override / "val.json")
    return {"coco": ["--data", coco], "ultralytics": ["--data", ultra],
            "json beside images/": ["--data", beside / "val.json"],
            "--images": ["--data", override / "val.json", "--images", coco / "val2017"]}  # fmt: skip


def test_eval_scores_every_layout_the_same(tmp_path, capsys):
    results = {}
    for name, args in layouts(tmp_path).items():
        code = main(["eval", str(MODEL), *map(str, args), "--limit", "24", "--json"])
        assert code == 0, name
        results[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    first = next(iter(results.values()))
    assert first["mAP"] > 0.05
    assert all(r == first for r in results.values()), results


def test_a_layout_without_its_images_names_where_it_looked(tmp_path, capsys):
    lone = tmp_path / "lone"
    (lone / "annotations").mkdir(parents=True)
    shutil.copy(need_shared("data", "coco", "tiny", "annotations", "instances_val2017.json"), lone / "annotations")
    (lone / "images").mkdir()  # exists, but without the split's images: never taken for them
    assert main(["eval", str(MODEL), "--data", str(lone)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no folder holds the images" in err[0] and "--images" in err[0]
