"""GFL decoding: class probabilities + per-side bin distributions -> scored boxes."""

from __future__ import annotations

import numpy as np

from .package import PackageMeta


def make_points(meta: PackageMeta) -> tuple[np.ndarray, np.ndarray]:
    """Point centres (P x 2, input pixels) and their strides (P), level by level, row-major."""
    return grid_points(meta.input_width, meta.input_height, meta.strides, meta.center_offset)


def grid_points(
    width: int, height: int, strides: tuple[int, ...], center_offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """The point layout shared by the runtime and the trainer: ceil(size / stride) cells per level."""
    centres, strides_out = [], []
    for s in strides:
        fw, fh = -(-width // s), -(-height // s)
        xs = (np.arange(fw, dtype=np.float32) + center_offset) * s
        ys = (np.arange(fh, dtype=np.float32) + center_offset) * s
        gx, gy = np.meshgrid(xs, ys)
        centres.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides_out.append(np.full(fw * fh, s, np.float32))
    return np.concatenate(centres), np.concatenate(strides_out)


def distribution_to_distance(bins: np.ndarray, reg_max: int) -> np.ndarray:
    """(K, 4*(reg_max+1)) bin logits -> (K, 4) expected distances in stride units."""
    logits = bins.reshape(-1, 4, reg_max + 1)
    logits = logits - logits.max(axis=2, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=2, keepdims=True)
    return probs @ np.arange(reg_max + 1, dtype=np.float32)


class GflDecoder:
    """Turns one image's raw output [P, D] into candidate (box, score, class) triples."""

    def __init__(self, meta: PackageMeta) -> None:
        self.meta = meta
        self.num_classes = meta.num_classes
        self.centres, self.strides = make_points(meta)
        self.max_x, self.max_y = float(meta.input_width), float(meta.input_height)

    def __call__(
        self, raw: np.ndarray, score_threshold: float, pre_nms_topk: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns boxes (K x 4, input pixels), scores (K), class ids (K) for scores above threshold.

        Every (point, class) pair above the threshold is a candidate, as in NanoDet's multiclass NMS.
        """
        scores = raw[:, : self.num_classes]
        point_idx, class_idx = np.nonzero(scores > score_threshold)
        cand_scores = scores[point_idx, class_idx]
        if pre_nms_topk and len(cand_scores) > pre_nms_topk:
            top = np.argpartition(-cand_scores, pre_nms_topk)[:pre_nms_topk]
            point_idx, class_idx, cand_scores = point_idx[top], class_idx[top], cand_scores[top]
        points, inverse = np.unique(point_idx, return_inverse=True)
        boxes = self.boxes_at(raw, points)[inverse]
        return boxes, cand_scores.astype(np.float32), class_idx.astype(np.int32)

    def boxes_at(self, raw: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Decoded xyxy boxes (input pixels, clipped to the input) at the given point indices."""
        box_part = raw[points, self.num_classes :]
        if self.meta.output_layout == "gfl_bins":
            dist = distribution_to_distance(box_part, self.meta.reg_max)
        else:
            dist = box_part
        dist = dist * self.strides[points, None]
        c = self.centres[points]
        boxes = np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1)
        np.clip(boxes[:, 0::2], 0, self.max_x, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, self.max_y, out=boxes[:, 1::2])
        return boxes.astype(np.float32)
