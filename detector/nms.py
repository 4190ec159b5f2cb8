"""Class-aware non-maximum suppression: OpenCV's ``NMSBoxesBatched`` (C++), with the numpy loop it replaced
kept as the reference. ``benchmarks/nms_speed.py`` measures both on real detector outputs: identical keeps,
OpenCV several times faster (docs/benchmarks.md)."""

from __future__ import annotations

import cv2
import numpy as np


def box_iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box against K boxes."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def batched_nms_numpy(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, max_det: int
) -> np.ndarray:
    """Indices kept by greedy NMS applied per class, best score first, at most ``max_det``.

    Boxes of different classes never suppress each other: each class is shifted to its own
    region of the plane (the usual offset trick), so one greedy pass handles all classes.
    """
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    span = float(boxes.max()) + 1.0
    shifted = boxes + (class_ids.astype(np.float32) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[box_iou_one_to_many(shifted[best], shifted[rest]) <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, max_det: int
) -> np.ndarray:
    """As ``batched_nms_numpy`` (same keeps, same order), computed by OpenCV.

    ``top_k`` stays 0: OpenCV applies it to the candidates *before* suppression, not to what is kept.
    """
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.astype(np.float64).tolist(),
                                   class_ids.astype(np.int32).tolist(), 0.0, float(iou_threshold))  # fmt: skip
    return np.asarray(keep, np.int64).reshape(-1)[:max_det]


def suppress_across_classes(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept when boxes of *any* class overlapping a better one at IoU >= ``iou_threshold`` are dropped:
    one label per object (a van is a car or a truck, not both). Best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if not keep or box_iou_one_to_many(boxes[i], boxes[keep]).max() < iou_threshold:
            keep.append(int(i))
    return np.asarray(keep, np.int64)
