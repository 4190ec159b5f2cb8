"""Sample sources from config entries."""

from __future__ import annotations

from detector.errors import KestrelError

from ..config import DatasetConfig
from .coco import CocoDataset
from .folder import ImageFolderSource
from .pipeline import SampleSource
from .video import VideoFramesSource
from .yolo import YoloDataset


class Subset:
    def __init__(self, source: SampleSource, count: int) -> None:
        self.source, self.count, self.class_names = source, min(count, len(source)), source.class_names

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        return self.source[index]


def build_source(cfg: DatasetConfig, class_names: tuple[str, ...]) -> SampleSource:
    if cfg.type == "coco":
        source = CocoDataset(cfg.annotations, cfg.images, class_names)
    elif cfg.type == "yolo":
        source = YoloDataset(cfg.images, cfg.labels, class_names)
    elif cfg.type == "video":
        if not cfg.video:
            raise KestrelError("data.train: a 'video' dataset needs 'video: PATH'")
        source = VideoFramesSource(cfg.video, cfg.frames, class_names)
    else:
        source = ImageFolderSource(cfg.images, class_names)
    return Subset(source, cfg.limit) if cfg.limit else source
