"""ATSS sample assignment (Zhang et al. 2020), as NanoDet's GFL head uses it.

Per ground-truth box: on every level take the ``topk`` points whose anchors (squares of side
``octave_base_scale x stride`` centred on the point) are closest to the box centre; the IoU threshold
is the mean + std of those candidates' IoUs; a candidate is positive if its IoU reaches it and its
point lies inside the box. A point claimed by several boxes goes to the one with the highest IoU.
Points inside crowd regions that are not positive are ignored (no loss), not negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .boxes import pairwise_iou


@dataclass
class Assignment:
    gt_index: torch.Tensor  # (P,) long: assigned box index, -1 for background
    ignore: torch.Tensor  # (P,) bool: background points inside crowd regions

    @property
    def positive(self) -> torch.Tensor:
        return self.gt_index >= 0


def atss_assign(
    points: torch.Tensor, strides: torch.Tensor, level_sizes: list[int], gt_boxes: torch.Tensor,
    crowd: torch.Tensor | None = None, topk: int = 9, octave_base_scale: float = 5.0,
) -> Assignment:  # fmt: skip
    num_points = points.shape[0]
    gt_index = torch.full((num_points,), -1, dtype=torch.long, device=points.device)
    ignore = torch.zeros(num_points, dtype=torch.bool, device=points.device)
    if crowd is not None and len(crowd):
        ignore = _inside(points, crowd).any(dim=1)
    if len(gt_boxes) == 0:
        return Assignment(gt_index, ignore)
    half = (octave_base_scale * strides / 2)[:, None]
    anchors = torch.cat([points - half, points + half], dim=1)
    ious = pairwise_iou(anchors, gt_boxes)  # (P, G)
    gt_centres = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    distances = torch.cdist(points, gt_centres)  # (P, G)
    candidates = []
    start = 0
    for size in level_sizes:
        k = min(topk, size)
        _, idx = distances[start : start + size].topk(k, dim=0, largest=False)
        candidates.append(idx + start)
        start += size
    cand = torch.cat(candidates, dim=0)  # (K, G)
    cand_iou = ious.gather(0, cand)
    threshold = cand_iou.mean(0) + cand_iou.std(0)
    inside = _inside(points, gt_boxes).gather(0, cand)
    is_pos = (cand_iou >= threshold[None, :]) & inside
    masked = torch.full_like(ious, -1.0)
    gt_cols = torch.arange(len(gt_boxes), device=points.device).expand_as(cand)
    masked[cand[is_pos], gt_cols[is_pos]] = ious[cand[is_pos], gt_cols[is_pos]]
    best_iou, best_gt = masked.max(dim=1)
    positive = best_iou >= 0
    gt_index[positive] = best_gt[positive]
    return Assignment(gt_index, ignore & ~positive)


def _inside(points: torch.Tensor, boxes: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """(P, B): point strictly inside the box."""
    x, y = points[:, 0:1], points[:, 1:2]
    return (
        (x - boxes[None, :, 0] > eps)
        & (boxes[None, :, 2] - x > eps)
        & (y - boxes[None, :, 1] > eps)
        & (boxes[None, :, 3] - y > eps)
    )
