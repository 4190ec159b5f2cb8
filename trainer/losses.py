"""GFL losses: Quality Focal Loss, Distribution Focal Loss, GIoU, and localization distillation (LD)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def quality_focal_loss(
    logits: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor, beta: float = 2.0, per_class: bool = False
) -> torch.Tensor:
    """Per-point QFL summed over classes (``per_class``: the (N, C) terms). ``labels`` (N,) with -1 for
    background, ``scores`` (N,) the soft targets (IoU) of positives. Negatives pull every class towards 0, a
    positive's own class towards its score, each term scaled by |target - prediction|^beta."""
    prob = logits.sigmoid()
    loss = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none") * prob.pow(beta)
    pos = torch.nonzero(labels >= 0).squeeze(1)
    if len(pos):
        cls = labels[pos]
        target = scores[pos].to(logits.dtype)
        pos_logits = logits[pos, cls]
        scale = (target - prob[pos, cls]).abs().pow(beta)
        loss[pos, cls] = F.binary_cross_entropy_with_logits(pos_logits, target, reduction="none") * scale
    return loss if per_class else loss.sum(dim=1)


def soft_quality_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, beta: float = 2.0, per_class: bool = False
) -> torch.Tensor:
    """QFL with a soft target for every class (N, C), e.g. a teacher's probabilities, summed over classes
    (``per_class``: the (N, C) terms): BCE(logit, target) * |target - sigmoid(logit)|^beta. Zero where the
    student already agrees."""
    targets = targets.to(logits.dtype)
    scale = (targets - logits.sigmoid()).abs().pow(beta)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * scale
    return loss if per_class else loss.sum(dim=1)


def distribution_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, R+1) bin logits, (N,) continuous targets in [0, R): CE to the two neighbouring bins,
    weighted by closeness — the distribution concentrates around the true distance."""
    left = target.long()
    right = left + 1
    w_left, w_right = right.float() - target, target - left.float()
    return F.cross_entropy(logits, left, reduction="none") * w_left + F.cross_entropy(
        logits, right, reduction="none"
    ) * w_right


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from .boxes import aligned_giou

    return 1.0 - aligned_giou(pred, target)[1]


def ld_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 10.0) -> torch.Tensor:
    """Localization distillation per distribution: T^2 * mean over bins of KL(teacher_T || student_T).

    ``student``/``teacher``: (N, R+1) bin logits of the same edges.
    """
    log_p = F.log_softmax(student / temperature, dim=1)
    q = F.softmax(teacher.detach() / temperature, dim=1)
    return F.kl_div(log_p, q, reduction="none").mean(dim=1) * temperature**2
