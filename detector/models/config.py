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


@dataclass(frozen=True)
class ModelConfig:
    name: str
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    neck: NeckConfig = field(default_factory=NeckConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    input_size: int = 320
    center_offset: float = 0.0


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
