"""Sample sources from config entries."""

from __future__ import annotations

from detector.errors import KestrelError

from ..config import DatasetConfig
from .coco import CocoDataset
from .folder import ImageFolderSource
from .pipeline import SampleSource
from .sample import Sample
from .video import VideoFramesSource
from .yolo import YoloDataset


class PartialLabels:
    """A labelled source whose labels cover only some classes: its samples say which."""

    def __init__(self, source: SampleSource, covered: frozenset[int]) -> None:
        self.source, self.covered, self.class_names = source, covered, source.class_names

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Sample:
        sample = self.source[index]
        sample.covered = self.covered
        return sample


def covered_ids(cfg: DatasetConfig, class_names: tuple[str, ...]) -> frozenset[int] | None:
    """The class ids ``cfg.classes`` names (None: all classes), refusing names the model does not know."""
    if not cfg.classes:
        return None
    unknown = [c for c in cfg.classes if c not in class_names]
    if unknown:
        raise KestrelError(f"data.train: classes {unknown} are not among the model's class names")
    if cfg.type in ("images", "video"):
        raise KestrelError(f"data.train: 'classes' is for labelled sets; a '{cfg.type}' set has no labels")
    return frozenset(class_names.index(c) for c in cfg.classes)


class Subset:
    def __init__(self, source: SampleSource, count: int) -> None:
        self.source, self.count, self.class_names = source, min(count, len(source)), source.class_names

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        return self.source[index]


class Repeated:
    """A source seen ``times`` times an epoch: oversampling a small set among large ones."""

    def __init__(self, source: SampleSource, times: int) -> None:
        self.source, self.times, self.class_names = source, times, source.class_names

    def __len__(self) -> int:
        return len(self.source) * self.times

    def __getitem__(self, index: int) -> Sample:
        return self.source[index % len(self.source)]


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
    covered = covered_ids(cfg, class_names)
    if covered is not None and len(covered) < len(class_names):
        source = PartialLabels(source, covered)
    if cfg.repeat < 1:
        raise KestrelError(f"data.train: repeat must be a whole number ≥ 1, got {cfg.repeat}")
    source = Subset(source, cfg.limit) if cfg.limit else source
    return Repeated(source, cfg.repeat) if cfg.repeat > 1 else source
