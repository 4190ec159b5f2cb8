"""The training-time augmentation pipeline and a deterministic, resumable dataset wrapper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .geometry import random_affine, resize
from .mixing import cutmix, mixup, mosaic
from .photometric import color_jitter
from .sample import Sample


class SampleSource(Protocol):
    class_names: tuple[str, ...]

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Sample: ...


@dataclass(frozen=True)
class AugmentConfig:
    mosaic: float = 0.5
    mixup: float = 0.15
    cutmix: float = 0.15
    scale: tuple[float, float] = (0.5, 1.5)
    translate: float = 0.2
    flip: float = 0.5
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.6, 1.4)
    saturation: tuple[float, float] = (0.5, 1.2)
    keep_ratio: bool = False


class TrainTransform:
    """mosaic? -> random affine -> MixUp? / CutMix? -> colour jitter, at the network input size."""

    def __init__(self, config: AugmentConfig, width: int, height: int) -> None:
        self.cfg, self.width, self.height = config, width, height

    def _single(self, source: SampleSource, index: int, rng: np.random.Generator, allow_mosaic: bool) -> Sample:
        cfg = self.cfg
        if allow_mosaic and rng.random() < cfg.mosaic:
            others = rng.integers(0, len(source), 3)
            sample = mosaic([source[index], *(source[int(i)] for i in others)], rng, self.width, self.height)
        else:
            sample = source[index]
        return random_affine(sample, rng, self.width, self.height, cfg.scale, cfg.translate, cfg.flip, cfg.keep_ratio)

    def __call__(self, source: SampleSource, index: int, rng: np.random.Generator) -> Sample:
        cfg = self.cfg
        sample = self._single(source, index, rng, allow_mosaic=True)
        roll = rng.random()
        if roll < cfg.mixup + cfg.cutmix:
            other = self._single(source, int(rng.integers(0, len(source))), rng, allow_mosaic=False)
            sample = mixup(sample, other, rng) if roll < cfg.mixup else cutmix(sample, other, rng)
        return color_jitter(sample, rng, cfg.brightness, cfg.contrast, cfg.saturation)


class EvalTransform:
    """What the runtime does: plain resize (or letterbox) to the input size."""

    def __init__(self, width: int, height: int, keep_ratio: bool = False) -> None:
        self.width, self.height, self.keep_ratio = width, height, keep_ratio

    def __call__(self, source: SampleSource, index: int, rng: np.random.Generator) -> Sample:
        return resize(source[index], self.width, self.height, self.keep_ratio)


class AugmentedDataset:
    """``source[i]`` through ``transform`` with an RNG seeded by (seed, epoch, i): any epoch, any index,
    any worker count reproduces the same sample, so a resumed run sees exactly the same data."""

    def __init__(self, source: SampleSource, transform: TrainTransform | EvalTransform, seed: int = 0) -> None:
        self.source, self.transform, self.seed, self.epoch = source, transform, seed, 0
        self.class_names = source.class_names

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return self.transform(self.source, index, rng)


class ConcatSource:
    """Several sample sources as one (class names must agree)."""

    def __init__(self, sources: list[SampleSource]) -> None:
        names = {s.class_names for s in sources}
        if len(names) != 1:
            raise ValueError("datasets disagree on class names")
        self.sources, self.class_names = sources, sources[0].class_names
        self.offsets = np.cumsum([0] + [len(s) for s in sources])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> Sample:
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.sources[k][index - int(self.offsets[k])]
