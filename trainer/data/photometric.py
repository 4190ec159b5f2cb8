"""Colour augmentation: brightness, contrast, saturation (NanoDet's ranges by default)."""

from __future__ import annotations

import cv2
import numpy as np

from .sample import Sample


def color_jitter(
    sample: Sample, rng: np.random.Generator, brightness: float = 0.2,
    contrast: tuple[float, float] = (0.6, 1.4), saturation: tuple[float, float] = (0.5, 1.2),
) -> Sample:  # fmt: skip
    image = sample.image.astype(np.float32)
    if saturation != (1.0, 1.0):
        gray = cv2.cvtColor(sample.image, cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
        image = gray + (image - gray) * rng.uniform(*saturation)
    image = image * rng.uniform(*contrast) + rng.uniform(-brightness, brightness) * 255.0
    out = np.clip(image, 0, 255).astype(np.uint8)
    return sample.with_parts(out, sample.boxes, sample.labels, sample.crowd)
