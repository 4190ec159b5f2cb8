"""Geometric augmentation: random scale / translate / flip as one affine warp, boxes mapped exactly."""

from __future__ import annotations

import cv2
import numpy as np

from .sample import Sample

BORDER = (114, 114, 114)
MIN_BOX_PX = 2.0
MIN_VISIBLE = 0.25  # keep a box if at least this share of its warped area is inside the output


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map xyxy boxes through a 2x3 affine matrix (corners -> enclosing box; exact without rotation)."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4).astype(np.float32)
    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1)
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    return np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1).astype(np.float32)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip to the image; returns (clipped boxes, keep mask) dropping slivers and mostly-outside boxes."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = boxes.copy()
    np.clip(clipped[:, 0::2], 0, width, out=clipped[:, 0::2])
    np.clip(clipped[:, 1::2], 0, height, out=clipped[:, 1::2])
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    keep = (w >= MIN_BOX_PX) & (h >= MIN_BOX_PX) & (w * h >= MIN_VISIBLE * np.maximum(area, 1e-6))
    return clipped, keep


def warp(sample: Sample, matrix: np.ndarray, width: int, height: int) -> Sample:
    image = cv2.warpAffine(sample.image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=BORDER)
    boxes, keep = clip_boxes(transform_boxes(sample.boxes, matrix), width, height)
    crowd, keep_crowd = clip_boxes(transform_boxes(sample.crowd, matrix), width, height)
    return sample.with_parts(image, boxes[keep], sample.labels[keep], crowd[keep_crowd])


def resize_matrix(in_w: int, in_h: int, out_w: int, out_h: int, keep_ratio: bool) -> np.ndarray:
    """Plain resize (stretch) or letterbox (centred, aspect kept) as an affine matrix."""
    if not keep_ratio:
        return np.array([[out_w / in_w, 0, 0], [0, out_h / in_h, 0]], np.float64)
    s = min(out_w / in_w, out_h / in_h)
    return np.array([[s, 0, (out_w - in_w * s) / 2], [0, s, (out_h - in_h * s) / 2]], np.float64)


def resize(sample: Sample, width: int, height: int, keep_ratio: bool = False) -> Sample:
    return warp(sample, resize_matrix(sample.width, sample.height, width, height, keep_ratio), width, height)


def random_affine(
    sample: Sample, rng: np.random.Generator, width: int, height: int,
    scale: tuple[float, float] = (0.5, 1.5), translate: float = 0.2, flip: float = 0.5, keep_ratio: bool = False,
) -> Sample:  # fmt: skip
    """Resize to the output, then scale about the centre, translate (fraction of the output), flip."""
    base = np.vstack([resize_matrix(sample.width, sample.height, width, height, keep_ratio), [0, 0, 1]])
    s = rng.uniform(*scale)
    cx, cy = width / 2, height / 2
    scale_m = np.array([[s, 0, cx - s * cx], [0, s, cy - s * cy], [0, 0, 1]])
    tx, ty = rng.uniform(-translate, translate) * width, rng.uniform(-translate, translate) * height
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    m = shift @ scale_m @ base
    if rng.random() < flip:
        m = np.array([[-1, 0, width], [0, 1, 0], [0, 0, 1]]) @ m
    return warp(sample, m[:2], width, height)
