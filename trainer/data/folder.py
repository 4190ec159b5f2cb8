"""Unlabeled images (a folder, e.g. frames sampled from videos): boxes come from a teacher."""

from __future__ import annotations

from pathlib import Path

from detector.errors import KestrelError
from detector.images import read_image

from .sample import Sample
from .yolo import IMAGE_SUFFIXES


class ImageFolderSource:
    def __init__(self, folder: str | Path, class_names: tuple[str, ...]) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise KestrelError(f"image folder not found: {self.folder}")
        self.files = sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise KestrelError(f"no images in {self.folder}")
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Sample:
        return Sample(read_image(self.files[index]), image_id=index, labeled=False)
