"""Build a detector from a ModelConfig, each part chosen by name."""

from __future__ import annotations

import torch
from torch import nn

from .backbones.shufflenetv2 import ShuffleNetV2
from .config import NANODET_M, NANODET_PLUS_M, PAPER_G1_LITE0_320, PAPER_G5_LITE1_416, ModelConfig
from .heads.gfl_head import GFLHead
from .necks.ghost_pan import GhostPAN
from .necks.pan import PAN

ARCHITECTURES: dict[str, ModelConfig] = {
    c.name: c for c in (NANODET_M, NANODET_PLUS_M, PAPER_G1_LITE0_320, PAPER_G5_LITE1_416)
}


class OneStageDetector(nn.Module):
    """backbone -> neck -> head; ``forward`` returns raw [N, P, C + 4*(reg_max+1)] logits."""

    def __init__(self, config: ModelConfig, backbone: nn.Module, fpn: nn.Module, head: GFLHead) -> None:
        super().__init__()
        self.config = config
        self.backbone, self.fpn, self.head = backbone, fpn, head

    def forward(self, x: torch.Tensor, with_features: bool | str = False):
        """Raw outputs; with ``with_features`` also feature maps for distillation: the neck's outputs
        (True or "neck"), or the neck's inputs at its own width ("neck_input", necks that have ``reduce``)."""
        feats = self.backbone(x)
        if with_features == "neck_input":
            taps = self.fpn.reduce(feats)
            outs = self.fpn.aggregate(taps)
        else:
            outs = taps = self.fpn(feats)
        out = self.head(outs)
        return (out, taps) if with_features else out


def build_backbone(cfg: ModelConfig) -> nn.Module:
    b = cfg.backbone
    if b.name == "shufflenetv2":
        return ShuffleNetV2(b.model_size, b.act)
    if b.name.startswith("efficientnet_lite"):
        from .backbones.efficientnet_lite import EfficientNetLite

        return EfficientNetLite(b.name, b.act, pretrained=b.pretrained)
    raise ValueError(f"unknown backbone '{b.name}'")


def build_neck(cfg: ModelConfig, in_channels: tuple[int, ...]) -> nn.Module:
    n = cfg.neck
    if n.name == "pan":
        return PAN(in_channels, n.out_channels)
    if n.name == "ghost_pan":
        neck = GhostPAN(in_channels, n.out_channels, n.kernel_size, n.num_extra_level, n.act, n.reduce_kernel)
        if not n.norm:  # the BN-free structure, e.g. to take a teacher's fused weights
            from .fuse import fuse_model

            fuse_model(neck)
        return neck
    raise ValueError(f"unknown neck '{n.name}'")


def build_head(cfg: ModelConfig, in_channels: int) -> GFLHead:
    h = cfg.head
    if h.name != "gfl":
        raise ValueError(f"unknown head '{h.name}'")
    return GFLHead(h.num_classes, in_channels, h.feat_channels, h.stacked_convs, h.strides, h.reg_max,
                   h.kernel_size, h.act, dgqp=h.dgqp, norm=h.norm)  # fmt: skip


def build_model(config: ModelConfig | str) -> OneStageDetector:
    cfg = ARCHITECTURES[config] if isinstance(config, str) else config
    backbone = build_backbone(cfg)
    neck = build_neck(cfg, backbone.out_channels)
    model = OneStageDetector(cfg, backbone, neck, build_head(cfg, neck.out_channels))
    if cfg.fused:
        from .fuse import fuse_model

        fuse_model(model.eval()).train()
    return model
