"""YOLO-txt detection dataset: images/ + labels/ with ``class cx cy w h`` (normalised) per line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.errors import KestrelError
from detector.images import read_image

from .sample import Sample

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class YoloDataset:
    def __init__(self, images: str | Path, labels: str | Path, class_names: tuple[str, ...]) -> None:
        self.images, self.labels = Path(images), Path(labels)
        if not self.images.is_dir():
            raise KestrelError(f"image folder not found: {self.images}")
        self.files = sorted(p for p in self.images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return len(self.files)

    def label_file(self, image: Path) -> Path:
        return self.labels / image.relative_to(self.images).with_suffix(".txt")

    def __getitem__(self, index: int) -> Sample:
        path = self.files[index]
        image = read_image(path)
        h, w = image.shape[:2]
        rows = []
        label_path = self.label_file(path)
        if label_path.is_file():
            for lineno, line in enumerate(label_path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    cls, cx, cy, bw, bh = (float(v) for v in line.split()[:5])
                except ValueError:
                    raise KestrelError(f"{label_path}:{lineno}: expected 'class cx cy w h'") from None
                if not 0 <= cls < len(self.class_names):
                    last = len(self.class_names) - 1
                    raise KestrelError(f"{label_path}:{lineno}: class {int(cls)} outside 0..{last}")
                x1, y1 = (cx - bw / 2) * w, (cy - bh / 2) * h
                rows.append((cls, x1, y1, x1 + bw * w, y1 + bh * h))
        arr = np.array(rows, np.float32).reshape(-1, 5)
        return Sample(image, arr[:, 1:], arr[:, 0].astype(np.int64), image_id=index)
