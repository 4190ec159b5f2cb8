"""Start a student from its teacher's head: the paper's student learns the teacher's neck features, and
the teacher's (already trained) head turns them into detections from the first step.

Possible when the student's head has the teacher's shape at the shared strides: the same width, depth,
kernel and classes, without BatchNorm (teachers from ncnn arrive with BN folded into the convs).
"""

from __future__ import annotations

import torch
from torch import nn

from detector.errors import KestrelError
from detector.models.necks.pan import PAN


def transplant_head(student: nn.Module, teacher: nn.Module) -> list[int]:
    """Copy the teacher head's levels at the student's strides into the student's head; the strides copied."""
    s_head, t_head = student.head, teacher.head
    copied = []
    for i, stride in enumerate(s_head.strides):
        if stride not in t_head.strides:
            raise KestrelError(f"cannot take the teacher's head: it has no stride-{stride} level")
        j = t_head.strides.index(stride)
        for part in ("cls_convs", "gfl_cls"):
            src, dst = getattr(t_head, part)[j].state_dict(), getattr(s_head, part)[i].state_dict()
            if src.keys() != dst.keys() or any(src[k].shape != dst[k].shape for k in src):
                raise KestrelError(
                    f"cannot take the teacher's head: its {part} at stride {stride} has another shape "
                    "(make the student's head match: feat_channels, stacked_convs, kernel_size, norm: false)"
                )
            getattr(s_head, part)[i].load_state_dict(src)
        copied.append(stride)
    if s_head.dgqp is not None:
        for dgqp in s_head.dgqp:
            dgqp.start_at(0.95)
    return copied


@torch.no_grad()
def match_neck_scale(student: nn.Module, student_feats: list[torch.Tensor], teacher_feats: list[torch.Tensor]) -> float:
    """Scale a linear PAN so its outputs have the teacher's RMS (the transplanted head expects that scale).

    NanoDet's PAN is linear in its 1x1 laterals, so scaling them scales every output. Returns the factor.
    """
    if not isinstance(student.fpn, PAN):
        return 1.0
    ratios = [t.pow(2).mean().sqrt() / s.pow(2).mean().sqrt().clamp(min=1e-12)
              for s, t in zip(student_feats, teacher_feats, strict=True)]  # fmt: skip
    factor = float(torch.stack(ratios).mean())
    for lateral in student.fpn.lateral_convs:
        lateral.conv.weight.mul_(factor)
        if lateral.conv.bias is not None:
            lateral.conv.bias.mul_(factor)
    return factor
