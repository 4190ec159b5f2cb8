"""The GFL training objective: ATSS targets, QFL + DFL + GIoU, and optional LD from a teacher."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from detector.decode import grid_points

from .assign import atss_assign
from .boxes import aligned_giou, box_to_distance, distance_to_box
from .losses import distribution_focal_loss, giou_loss, ld_loss, quality_focal_loss, soft_quality_focal_loss


@dataclass(frozen=True)
class LossConfig:
    qfl_weight: float = 1.0
    qfl_beta: float = 2.0
    dfl_weight: float = 0.25
    giou_weight: float = 2.0
    label_smoothing: float = 0.0  # positives' soft targets are scaled by (1 - this)
    atss_topk: int = 9
    octave_base_scale: float = 5.0


@dataclass(frozen=True)
class DistillWeights:
    """How much of the teacher reaches the loss: LD on the positives' edge distributions (weight,
    temperature) and dense soft-QFL on every point's class scores (``cls``; 0 disables it)."""

    ld: float = 0.25
    temperature: float = 10.0
    cls: float = 0.0


@dataclass
class Target:
    boxes: torch.Tensor  # (G, 4) xyxy in network-input pixels
    labels: torch.Tensor  # (G,)
    crowd: torch.Tensor  # (K, 4)
    covered: frozenset[int] | None = None  # classes the boxes cover (None: all); the others learn from a teacher


class GFLCriterion:
    def __init__(self, num_classes: int, reg_max: int, strides: tuple[int, ...], center_offset: float,
                 width: int, height: int, cfg: LossConfig = LossConfig(),
                 distill: DistillWeights = DistillWeights()) -> None:  # fmt: skip
        self.num_classes, self.reg_max, self.cfg, self.distill = num_classes, reg_max, cfg, distill
        centres, point_strides = grid_points(width, height, strides, center_offset)
        self.points = torch.from_numpy(centres)
        self.strides = torch.from_numpy(point_strides)
        self.level_sizes = [(-(-width // s)) * (-(-height // s)) for s in strides]
        self.project = torch.arange(reg_max + 1, dtype=torch.float32)

    def to(self, device: torch.device) -> GFLCriterion:
        self.points, self.strides, self.project = (t.to(device) for t in (self.points, self.strides, self.project))
        return self

    def __call__(
        self, raw: torch.Tensor, targets: list[Target], teacher: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``raw`` (B, P, C + 4*(R+1)) student logits; ``teacher`` the same layout with class
        probabilities, or None without distillation."""
        raw = raw.float()
        b, p, _ = raw.shape
        c, bins_per_side = self.num_classes, self.reg_max + 1
        cls_logits = raw[..., :c].reshape(b * p, c)
        bins = raw[..., c:].reshape(b * p, 4, bins_per_side)
        labels = torch.full((b * p,), -1, dtype=torch.long, device=raw.device)
        valid = torch.ones(b * p, dtype=torch.bool, device=raw.device)
        pos_index, pos_boxes = [], []
        for i, t in enumerate(targets):
            a = atss_assign(self.points, self.strides, self.level_sizes, t.boxes, t.crowd,
                            self.cfg.atss_topk, self.cfg.octave_base_scale)  # fmt: skip
            pos = torch.nonzero(a.positive).squeeze(1)
            labels[i * p + pos] = t.labels[a.gt_index[pos]]
            valid[i * p : (i + 1) * p] = ~a.ignore
            pos_index.append(i * p + pos)
            pos_boxes.append(t.boxes[a.gt_index[pos]])
        pos_index = torch.cat(pos_index)
        target_boxes = torch.cat(pos_boxes)
        num_pos = max(len(pos_index), 1)
        point_of = pos_index % p
        pos_points, pos_strides = self.points[point_of], self.strides[point_of][:, None]
        pos_bins = bins[pos_index]
        pred_dist = F.softmax(pos_bins, dim=2) @ self.project  # (N, 4) in strides
        pred_boxes = distance_to_box(pos_points, pred_dist * pos_strides)
        scores = torch.zeros(b * p, device=raw.device)
        if len(pos_index):
            iou, _ = aligned_giou(pred_boxes.detach(), target_boxes)
            scores[pos_index] = iou.clamp(min=0) * (1.0 - self.cfg.label_smoothing)
        qfl = self._class_loss(cls_logits, labels, scores, valid, targets, teacher, p).sum() / num_pos
        weight = cls_logits[pos_index].detach().sigmoid().max(dim=1).values
        weight_sum = weight.sum().clamp(min=1e-6)
        giou = (giou_loss(pred_boxes, target_boxes) * weight).sum() / weight_sum
        target_dist = (box_to_distance(pos_points, target_boxes) / pos_strides).clamp(0, self.reg_max - 0.01)
        side_weight = weight.repeat_interleave(4)
        flat_bins = pos_bins.reshape(-1, bins_per_side)
        dfl = (distribution_focal_loss(flat_bins, target_dist.reshape(-1)) * side_weight).sum() / (4 * weight_sum)
        losses = {"qfl": qfl, "giou": giou, "dfl": dfl}
        total = self.cfg.qfl_weight * qfl + self.cfg.giou_weight * giou + self.cfg.dfl_weight * dfl
        if teacher is not None:
            teacher = teacher.float()
            t_bins = teacher[..., c:].reshape(b * p, 4 * bins_per_side)[pos_index].reshape(-1, bins_per_side)
            ld = (ld_loss(flat_bins, t_bins, self.distill.temperature) * side_weight).sum() / (4 * weight_sum)
            losses["ld"] = ld
            total = total + self.distill.ld * ld
            if self.distill.cls > 0:
                t_scores = teacher[..., :c].reshape(b * p, c)[valid]
                # Normalised by the teacher's soft positive count: its summed top score per point.
                norm = t_scores.max(dim=1).values.sum().clamp(min=1.0)
                kd = soft_quality_focal_loss(cls_logits[valid], t_scores, self.cfg.qfl_beta).sum() / norm
                losses["kd"] = kd
                total = total + self.distill.cls * kd
        losses["loss"] = total
        losses["num_pos"] = torch.tensor(float(len(pos_index)))
        return losses

    def _class_loss(self, cls_logits: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor, valid: torch.Tensor,
                    targets: list[Target], teacher: torch.Tensor | None, p: int) -> torch.Tensor:  # fmt: skip
        """QFL per valid point; for classes a partially labelled image does not cover, the soft QFL towards
        the teacher's probabilities instead (its missing boxes must not read as background)."""
        if all(t.covered is None for t in targets):
            return quality_focal_loss(cls_logits[valid], labels[valid], scores[valid], self.cfg.qfl_beta)
        if teacher is None:
            raise ValueError("partially labelled images need the teacher's outputs")
        c = self.num_classes
        hard = torch.ones(len(targets), c, dtype=torch.bool, device=cls_logits.device)
        for i, t in enumerate(targets):
            if t.covered is not None:
                hard[i] = False
                hard[i, list(t.covered)] = True
        hard = hard.repeat_interleave(p, dim=0)[valid]
        logits = cls_logits[valid]
        loss = quality_focal_loss(logits, labels[valid], scores[valid], self.cfg.qfl_beta, per_class=True)
        t_scores = teacher[..., :c].float().reshape(-1, c)[valid]
        soft = soft_quality_focal_loss(logits, t_scores, self.cfg.qfl_beta, per_class=True)
        return torch.where(hard, loss, soft).sum(dim=1)
