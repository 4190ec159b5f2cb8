"""Box geometry shared by tracking and rules."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M) IoU."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def merged_boxes(boxes: np.ndarray, tracked: np.ndarray, cover: float, growth: float) -> np.ndarray:
    """(N,) bool: which ``boxes`` cover at least ``cover`` of two or more ``tracked`` boxes while being at least
    ``growth`` times larger than each of them — one box around two objects, not an observation of either. (A
    box merely hiding an object behind it is no larger than its own object's box, so it is not a merge.)"""
    if len(tracked) < 2 or not len(boxes):
        return np.zeros(len(boxes), bool)
    lt = np.maximum(boxes[:, None, :2], tracked[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], tracked[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = np.prod(np.clip(tracked[:, 2:] - tracked[:, :2], 1e-6, None), axis=1)
    own = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    return ((inter / area[None] >= cover) & (own[:, None] >= growth * area[None])).sum(1) >= 2
