"""Start a student from parts of its teacher: the head (and a Ghost-PAN neck) are taken over; the
student's own backbone learns to feed them the teacher's features, and the teacher's trained parts turn
those into detections from the first step.

Possible when the student's parts have the teacher's shape at the shared strides (width, depth, kernel,
classes), without BatchNorm: teachers from ncnn arrive with BN folded into the convs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


def transplant_neck(student: nn.Module, teacher: nn.Module) -> list[str]:
    """Copy a Ghost-PAN's top-down/bottom-up paths from the teacher (not its reduce layers, which depend on
    the backbone, nor extra levels the student lacks); the parts copied."""
    s_neck, t_neck = student.fpn, teacher.fpn
    parts = ("top_down_blocks", "downsamples", "bottom_up_blocks")
    if not all(hasattr(s_neck, p) and hasattr(t_neck, p) for p in parts):
        raise KestrelError("cannot take the teacher's neck: both necks must be Ghost-PANs")
    for part in parts:
        src, dst = getattr(t_neck, part).state_dict(), getattr(s_neck, part).state_dict()
        if src.keys() != dst.keys() or any(src[k].shape != dst[k].shape for k in src):
            raise KestrelError(f"cannot take the teacher's neck: its {part} has another shape "
                               "(same width, kernel, levels and neck.norm: false)")  # fmt: skip
        getattr(s_neck, part).load_state_dict(src)
    return list(parts)


def transplanted_parameters(student: nn.Module, head: bool, neck: bool, fitted: bool = False) -> list[nn.Parameter]:
    """The parameters a transplant filled (the DGQP branch is new and not among them), and with ``fitted``
    the reduce layers solved in closed form: small weights that Adam's fixed-size steps would wipe out."""
    params = list(student.fpn.reduce_layers.parameters()) if fitted else []
    if head:
        params += [*student.head.cls_convs.parameters(), *student.head.gfl_cls.parameters()]
    if neck:
        for part in ("top_down_blocks", "downsamples", "bottom_up_blocks"):
            params += list(getattr(student.fpn, part).parameters())
    return params


@torch.no_grad()
def fit_reduce_layers(student: nn.Module, backbone_maps: list[list[torch.Tensor]],
                      teacher_maps: list[list[torch.Tensor]], ridge: float = 1e-2) -> list[float]:  # fmt: skip
    """Solve each Ghost-PAN reduce layer (1x1 conv + LeakyReLU) in closed form: ridge regression from the
    student's backbone maps to the teacher's reduced maps with the LeakyReLU undone (it is invertible).
    Starts the taken neck and head on features that already resemble the teacher's. ``backbone_maps`` and
    ``teacher_maps``: per level, a list of (B, C, H, W) batches. Returns R^2 per level (on the fit data)."""
    r2 = []
    for level, layer in enumerate(student.fpn.reduce_layers):
        slope = getattr(layer.act, "negative_slope", 0.0)
        if not slope:
            raise KestrelError("closed-form reduce layers need an invertible activation (LeakyReLU)")
        k = layer.conv.kernel_size[0]
        x = torch.cat([_patches(m, k) for m in backbone_maps[level]]).double()
        t = torch.cat([m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]) for m in teacher_maps[level]]).double()
        z = torch.where(t >= 0, t, t / slope)
        xa = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        w = torch.linalg.solve(xa.T @ xa + ridge * len(x) * torch.eye(xa.shape[1], dtype=x.dtype), xa.T @ z)
        pred = xa @ w
        r2.append(float(1 - (pred - z).pow(2).sum() / (z - z.mean(0)).pow(2).sum()))
        conv = layer.conv
        conv.weight.copy_(w[:-1].T.float().reshape(conv.weight.shape))
        conv.bias.copy_(w[-1].float())
    return r2


def _patches(maps: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, C*k*k): each position's kxk neighbourhood, in a conv weight's (C, kh, kw) order."""
    if k == 1:
        return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1])
    cols = F.unfold(maps, k, padding=k // 2)  # (B, C*k*k, H*W)
    return cols.permute(0, 2, 1).reshape(-1, cols.shape[1])


@torch.no_grad()
def match_reduce_scale(student: nn.Module, student_feats: list[torch.Tensor], teacher_feats: list[torch.Tensor]):
    """Scale each of a Ghost-PAN's reduce layers so its output has the teacher's RMS at that level (a
    1x1 conv + LeakyReLU: scaling the conv scales the output). Returns the factors."""
    factors = []
    for layer, s, t in zip(student.fpn.reduce_layers, student_feats, teacher_feats, strict=True):
        factor = float(t.pow(2).mean().sqrt() / s.pow(2).mean().sqrt().clamp(min=1e-12))
        layer.conv.weight.mul_(factor)
        if layer.conv.bias is not None:
            layer.conv.bias.mul_(factor)
        factors.append(factor)
    return factors


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
