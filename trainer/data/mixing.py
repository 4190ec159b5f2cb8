"""Multi-image augmentations: mosaic, MixUp, CutMix. Boxes follow their pixels exactly."""

from __future__ import annotations

import numpy as np

from .geometry import BORDER, clip_boxes, resize_matrix, transform_boxes, warp
from .sample import Sample


def _concat(parts: list[Sample], image: np.ndarray) -> Sample:
    return Sample(
        image,
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.crowd for p in parts]),
        parts[0].image_id,
        all(p.labeled for p in parts),
        _covered_by_all(parts),
    )


def _covered_by_all(parts: list[Sample]) -> frozenset[int] | None:
    """A class counts as labelled in a mixed image only where every part labels it."""
    sets = [p.covered for p in parts if p.covered is not None]
    return frozenset.intersection(*sets) if sets else None


def mosaic(samples: list[Sample], rng: np.random.Generator, width: int, height: int) -> Sample:
    """Four images around a random centre on a 2W x 2H canvas, each fitted (aspect kept) to its quadrant.

    The caller's random affine then brings the canvas down to W x H.
    """
    if len(samples) != 4:
        raise ValueError("mosaic needs 4 samples")
    cw, ch = 2 * width, 2 * height
    xc, yc = int(rng.uniform(0.5, 1.5) * width), int(rng.uniform(0.5, 1.5) * height)
    canvas = np.full((ch, cw, 3), BORDER, np.uint8)
    quads = [(0, 0, xc, yc), (xc, 0, cw, yc), (0, yc, xc, ch), (xc, yc, cw, ch)]
    placed = []
    for sample, (x1, y1, x2, y2) in zip(samples, quads, strict=True):
        qw, qh = x2 - x1, y2 - y1
        if qw < 2 or qh < 2:
            continue
        m = resize_matrix(sample.width, sample.height, qw, qh, keep_ratio=True)
        part = warp(sample, m, qw, qh)
        canvas[y1:y2, x1:x2] = part.image
        offset = np.array([x1, y1, x1, y1], np.float32)
        placed.append(part.with_parts(part.image, part.boxes + offset, part.labels, part.crowd + offset))
    return _concat(placed, canvas)


def mixup(a: Sample, b: Sample, rng: np.random.Generator, alpha: float = 32.0) -> Sample:
    """Blend two same-size images (ratio ~ Beta(alpha, alpha)); both box sets are kept."""
    if a.image.shape != b.image.shape:
        raise ValueError("mixup needs images of the same size")
    lam = rng.beta(alpha, alpha)
    image = (a.image.astype(np.float32) * lam + b.image.astype(np.float32) * (1 - lam)).round().astype(np.uint8)
    return _concat([a, b], image)


def cutmix(a: Sample, b: Sample, rng: np.random.Generator, max_cover: float = 0.6) -> Sample:
    """Paste a random rectangle of ``b`` into ``a``.

    ``b``'s boxes are clipped to the patch (kept if enough of them is inside); ``a``'s boxes covered
    by more than ``max_cover`` of their area are dropped.
    """
    if a.image.shape != b.image.shape:
        raise ValueError("cutmix needs images of the same size")
    h, w = a.height, a.width
    cut = np.sqrt(1.0 - rng.uniform(0.3, 0.7))
    pw, ph = int(w * cut), int(h * cut)
    x1, y1 = int(rng.uniform(0, w - pw + 1)), int(rng.uniform(0, h - ph + 1))
    x2, y2 = x1 + pw, y1 + ph
    image = a.image.copy()
    image[y1:y2, x1:x2] = b.image[y1:y2, x1:x2]

    def inside_patch(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = np.array([[1, 0, -x1], [0, 1, -y1]], np.float64)
        local, keep = clip_boxes(transform_boxes(boxes, shift), pw, ph)
        return local + np.array([x1, y1, x1, y1], np.float32), keep

    b_boxes, b_keep = inside_patch(b.boxes)
    b_crowd, b_crowd_keep = inside_patch(b.crowd)
    covered_boxes, _ = inside_patch(a.boxes)
    covered = (covered_boxes[:, 2] - covered_boxes[:, 0]) * (covered_boxes[:, 3] - covered_boxes[:, 1])
    area = np.maximum((a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1]), 1e-6)
    a_keep = covered / area <= max_cover
    kept_a = a.with_parts(a.image, a.boxes[a_keep], a.labels[a_keep], a.crowd)
    kept_b = b.with_parts(b.image, b_boxes[b_keep], b.labels[b_keep], b_crowd[b_crowd_keep])
    return _concat([kept_a, kept_b], image)
