"""Load an ncnn (onnx2ncnn-exported) NanoDet model's weights into the matching torch model.

onnx2ncnn keeps ONNX node names (``Conv_<n>``), and ``n`` is the order the original PyTorch model
ran its convolutions in, so sorting by it lines the ncnn convolutions up with the torch model's
execution order. The torch model is fused first (ncnn weights have BN folded in).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ModelImportError
from ..ncnn.param import parse_param
from ..ncnn.weights import WeightReader
from .fuse import fuse_model

CONV_TYPES = ("Convolution", "ConvolutionDepthWise")
WEIGHTLESS = {"Input", "Pooling", "Split", "Concat", "ShuffleChannel", "Crop", "Slice", "Interp", "BinaryOp",
              "Sigmoid", "Reshape", "Permute", "ReLU", "Clip", "Swish", "TanH", "Noop", "Dropout"}  # fmt: skip


def read_ncnn_convs(param: str | Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, weight, bias) for every convolution, in the original model's execution order."""
    param = Path(param)
    reader = WeightReader(param.with_suffix(".bin"))
    convs = []
    for layer in parse_param(param):
        if layer.type in CONV_TYPES:
            size = int(layer.get(6, 0))
            weight = reader.tagged(size, f"layer '{layer.name}' weights")
            out = int(layer.get(0, 0))
            bias = reader.raw_fp32(out, f"layer '{layer.name}' bias") if layer.get(5, 0) else None
            convs.append((layer.name, weight, bias))
        elif layer.type not in WEIGHTLESS:
            raise ModelImportError(f"{param}: layer type {layer.type} has no torch mapping")
    reader.finish()
    numbers = [re.fullmatch(r"Conv_(\d+)", name) for name, _, _ in convs]
    if not all(numbers):
        raise ModelImportError(f"{param} does not keep ONNX node names (Conv_<n>); cannot map it to torch")
    return [c for _, c in sorted(zip((int(m.group(1)) for m in numbers), convs, strict=True))]


def conv_execution_order(model: nn.Module, input_size: int) -> list[nn.Conv2d]:
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in model.modules() if isinstance(m, nn.Conv2d)]  # fmt: skip
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in hooks:
            h.remove()
    return order


def load_ncnn_into(model: nn.Module, param: str | Path, input_size: int) -> nn.Module:
    """Fuse ``model`` and copy the ncnn weights into it; returns the fused model in eval mode."""
    model = fuse_model(model.eval())
    convs = read_ncnn_convs(param)
    order = conv_execution_order(model, input_size)
    if len(order) != len(convs):
        raise ModelImportError(f"{param} has {len(convs)} convolutions, the torch model runs {len(order)}")
    with torch.no_grad():
        for conv, (name, weight, bias) in zip(order, convs, strict=True):
            if weight.size != conv.weight.numel():
                raise ModelImportError(f"{name}: {weight.size} weights do not fit {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight).reshape(conv.weight.shape))
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(bias) if bias is not None else torch.zeros_like(conv.bias))
            elif bias is not None:
                raise ModelImportError(f"{name} has a bias the torch conv lacks")
    return model
