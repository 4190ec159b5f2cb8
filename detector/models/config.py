"""Typed model configs: a backbone, a neck and a head chosen by name, plus the point layout."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackboneConfig:
    name: str = "shufflenetv2"
    model_size: str = "1.0x"
    act: str = "leakyrelu"
    pretrained: bool = False


@dataclass(frozen=True)
class NeckConfig:
    name: str = "pan"
    out_channels: int = 96
    kernel_size: int = 5
    num_extra_level: int = 0
    act: str = "leakyrelu"
    norm: bool = True  # ghost_pan: False builds it without BN (convs with bias), e.g. to take fused weights
    reduce_kernel: int = 1  # ghost_pan: kernel of the layers bringing the backbone's maps to the neck's width


@dataclass(frozen=True)
class HeadConfig:
    name: str = "gfl"
    num_classes: int = 80
    feat_channels: int = 96
    stacked_convs: int = 2
    kernel_size: int = 3
    strides: tuple[int, ...] = (8, 16, 32)
    reg_max: int = 7
    act: str = "leakyrelu"
    dgqp: bool = False
    norm: bool = True  # BatchNorm in the head's convs (False: convs with bias, e.g. to take fused weights)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    neck: NeckConfig = field(default_factory=NeckConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    input_size: int = 320
    center_offset: float = 0.0
    # Input normalisation on BGR pixels (NanoDet's by default; EfficientNet-Lite was trained on (x-127)/128).
    mean: tuple[float, float, float] = (103.53, 116.28, 123.675)
    std: tuple[float, float, float] = (57.375, 57.12, 58.395)
    fused: bool = False  # BN folded into the convs (to fine-tune weights that arrive fused, e.g. from ncnn)


NANODET_M = ModelConfig(
    name="nanodet-m",
    neck=NeckConfig(name="pan", out_channels=96),
    head=HeadConfig(kernel_size=3, strides=(8, 16, 32)),
    input_size=320,
    center_offset=0.5,
)
NANODET_PLUS_M = ModelConfig(
    name="nanodet-plus-m",
    neck=NeckConfig(name="ghost_pan", out_channels=96, kernel_size=5, num_extra_level=1),
    head=HeadConfig(kernel_size=5, strides=(8, 16, 32, 64)),
    input_size=416,
    center_offset=0.0,
)

# The paper's Table 2, group 1: exactly NanoDet-EfficientLite0-320 (ReLU6, GFLv1).
PAPER_G1_LITE0_320 = ModelConfig(
    name="kestrel-lite0-320-relu6-gflv1",
    backbone=BackboneConfig(name="efficientnet_lite0", act="relu6", pretrained=True),
    neck=NeckConfig(name="pan", out_channels=96),
    head=HeadConfig(feat_channels=96, stacked_convs=2, kernel_size=3, strides=(8, 16, 32), reg_max=7, act="relu6"),
    input_size=320,
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
)
# Group 5: EfficientNet-Lite1-416, SiLU, GFLv2 (DGQP); pruned 2:4 and distilled by the trainer.
PAPER_G5_LITE1_416 = ModelConfig(
    name="kestrel-lite1-416-silu-gflv2",
    backbone=BackboneConfig(name="efficientnet_lite1", act="silu", pretrained=True),
    neck=NeckConfig(name="pan", out_channels=128),
    head=HeadConfig(feat_channels=128, stacked_convs=3, kernel_size=3, strides=(8, 16, 32), reg_max=10,
                    act="silu", dgqp=True),
    input_size=416,
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
)
