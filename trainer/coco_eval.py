"""COCO evaluation of a model package with pycocotools (the reference evaluator).

Runs the runtime Detector, so it needs no torch; pycocotools comes with the ``train`` extra.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from detector.detector import Detector
from detector.errors import KestrelError
from detector.images import read_image

METRIC_NAMES = ("mAP", "AP50", "AP75", "APs", "APm", "APl")


@dataclass(frozen=True)
class CocoSplit:
    annotations: Path
    images: Path


def resolve_split(data: str | Path, split: str = "val2017", images: str | Path | None = None) -> CocoSplit:
    """Find the annotation JSON and image folder from a dataset dir or a JSON path.

    Layouts: ``DIR/annotations/instances_<split>.json`` with the images in ``DIR/<split>/`` (COCO) or
    ``DIR/images/<split>/`` (Ultralytics and many public sets); a JSON path with the images beside it, in
    ``images/`` or ``images/<split>/`` next to it or one level up. ``images`` overrides the search. A folder
    counts only if it holds the images the JSON names.
    """
    data = Path(data)
    if not data.exists():
        raise KestrelError(f"dataset not found: {data}")
    if data.is_file():
        ann = data
        split = ann.stem.removeprefix("instances_")
        roots = [ann.parent, ann.parent.parent]
    else:
        ann = data / "annotations" / f"instances_{split}.json"
        if not ann.is_file():
            found = sorted((data / "annotations").glob("*.json")) if (data / "annotations").is_dir() else []
            found = found or sorted(data.glob("*.json"))
            if len(found) != 1:
                raise KestrelError(f"no annotations/instances_{split}.json in {data} (found {len(found)} json)")
            ann = found[0]
        roots = [data]
    names = _first_file_names(ann)
    guess = [Path(images)] if images is not None else [
        folder for root in roots for folder in (root / split, root / "images" / split, root / "images", root)
    ]
    for folder in guess:
        if folder.is_dir() and all((folder / name).is_file() for name in names):
            return CocoSplit(ann, folder)
    where = ", ".join(map(str, dict.fromkeys(guess)))
    raise KestrelError(f"no folder holds the images {ann.name} names (e.g. {names[0] if names else '?'}); looked in "
                       f"{where}; pass --images DIR")  # fmt: skip


def _first_file_names(ann: Path, count: int = 3) -> list[str]:
    try:
        infos = json.loads(ann.read_text())["images"]
        return [str(info["file_name"]) for info in infos[:count]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KestrelError(f"{ann} is not a COCO annotation file ({type(exc).__name__}: {exc})") from None


def category_map(class_names: tuple[str, ...], categories: list[dict]) -> dict[int, int]:
    """Model class index -> dataset category id, matched by name."""
    by_name = {c["name"]: c["id"] for c in categories}
    mapping = {i: by_name[n] for i, n in enumerate(class_names) if n in by_name}
    if not mapping:
        raise KestrelError("none of the model's class names appear in the dataset's categories")
    return mapping


def evaluate(
    detector: Detector,
    split: CocoSplit,
    limit: int | None = None,
    detections_out: Path | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """COCO box metrics (fractions) for ``detector`` on ``split``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(sys.stderr):
        gt = COCO(str(split.annotations))
    mapping = category_map(detector.class_names, gt.loadCats(gt.getCatIds()))
    image_ids = sorted(gt.getImgIds())[:limit]
    results = []
    for image_id in tqdm(image_ids, desc="eval", unit="img", disable=not progress, file=sys.stderr):
        info = gt.loadImgs(image_id)[0]
        dets = detector(read_image(split.images / info["file_name"]))
        for box, score, cls in zip(dets.boxes.tolist(), dets.scores.tolist(), dets.class_ids.tolist(), strict=True):
            if cls in mapping:
                x1, y1, x2, y2 = box
                results.append({
                    "image_id": image_id, "category_id": mapping[cls],
                    "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                    "score": round(score, 5),
                })  # fmt: skip
    if detections_out is not None:
        detections_out.parent.mkdir(parents=True, exist_ok=True)
        detections_out.write_text(json.dumps(results))
    if not results:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    with contextlib.redirect_stdout(sys.stderr):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = image_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(ev.stats[i]) for i, name in enumerate(METRIC_NAMES)}
