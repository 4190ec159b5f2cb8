"""COCO-format detection dataset (JSON annotations + an image folder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from detector.errors import KestrelError
from detector.images import read_image

from .sample import Sample


class CocoDataset:
    """Categories map to the model's class ids by name (without names: by ascending id, COCO's 80 -> 0..79);
    annotations of categories the model does not know are skipped.

    ``iscrowd`` boxes become ignore regions; boxes under 1 px are dropped; images without boxes stay.
    """

    def __init__(self, annotations: str | Path, images: str | Path, class_names: tuple[str, ...] | None = None) -> None:
        self.annotations, self.images = Path(annotations), Path(images)
        if not self.annotations.is_file():
            raise KestrelError(f"annotation file not found: {self.annotations}")
        if not self.images.is_dir():
            raise KestrelError(f"image folder not found: {self.images}")
        try:
            data = json.loads(self.annotations.read_text())
            cats = sorted(data["categories"], key=lambda c: c["id"])
            self.class_names = tuple(class_names or (c["name"] for c in cats))
            cat_index = {c["id"]: self.class_names.index(c["name"]) for c in cats if c["name"] in self.class_names}
            if not cat_index:
                raise KestrelError(f"{self.annotations}: no category matches the model's class names")
            self.infos = sorted(data["images"], key=lambda im: im["id"])
            per_image: dict[int, list] = {im["id"]: [] for im in self.infos}
            for ann in data.get("annotations", []):
                if ann["image_id"] in per_image and ann["category_id"] in cat_index:
                    entry = (ann["bbox"], cat_index[ann["category_id"]], ann.get("iscrowd", 0))
                    per_image[ann["image_id"]].append(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise KestrelError(f"{self.annotations} is not a COCO detection file ({exc!r})") from None
        self.targets = [per_image[im["id"]] for im in self.infos]

    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, index: int) -> Sample:
        info = self.infos[index]
        boxes, labels, crowd = [], [], []
        for (x, y, w, h), label, is_crowd in self.targets[index]:
            if w < 1 or h < 1:
                continue
            (crowd if is_crowd else boxes).append([x, y, x + w, y + h])
            if not is_crowd:
                labels.append(label)
        image = read_image(self.images / info["file_name"])
        return Sample(image, np.array(boxes), np.array(labels), np.array(crowd), info["id"])
