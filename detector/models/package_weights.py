"""Read a Kestrel model package's weights back into its PyTorch network, so a shipped model can be the start of
training (``sparsity.init: assets/kestrel-lite0-320.onnx``) without the run that made it.

A package holds every convolution with its BatchNorm folded in (`fuse.py`). Loading writes the folded weight into
the convolution and turns its BatchNorm into the identity that carries the folded bias (scale 1, mean 0,
variance 1 - eps): the network computes exactly what the package computes, in eval mode and with BatchNorm
frozen, as Kestrel's fine-tuning and 2:4 recipes train. 2:4 masks come out the same as from the unfolded
weights, since folding scales each output channel and a 2:4 group lies within one.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from ..errors import ModelImportError


def _module_path(node_name: str) -> str:
    """'/model/backbone/body/blocks.0/blocks.0.0/conv_dw/Conv' -> 'backbone.body.blocks.0.0.conv_dw'.

    The exporter names each node by the scopes of the modules it ran in; a scope of a numbered child repeats
    its parent's name ('blocks.0' then 'blocks.0.0'), and the last part names the operator."""
    parts: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        if parts and part.startswith(parts[-1] + "."):
            parts[-1] = part
        else:
            parts.append(part)
    if not parts or parts[0] != "model":
        raise ModelImportError(f"ONNX node '{node_name}' is not named after a Kestrel module")
    return ".".join(parts[1:])


def package_conv_weights(path: str | Path) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
    """Module path -> (folded weight, bias) of every Conv in the package at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"no model package at {path}")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise ModelImportError(f"{path} is not a readable ONNX model: {exc}") from exc
    tensors = {t.name: t for t in proto.graph.initializer}
    weights: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        names = list(node.input[1:3])
        if any(n not in tensors for n in names):
            raise ModelImportError(f"{path}: Conv '{node.name}' takes a weight that is not a stored tensor")
        weight, bias = (torch.from_numpy(numpy_helper.to_array(tensors[n]).copy()) if n else None
                        for n in (names + [""])[:2])
        module = _module_path(node.name)
        if module in weights:
            raise ModelImportError(f"{path}: two Convs belong to module '{module}'")
        weights[module] = (weight, bias)
    return weights


def conv_norms(model: nn.Module) -> dict[nn.Conv2d, nn.BatchNorm2d]:
    """Each convolution -> the BatchNorm that normalises its output, found by running the network once
    (the exporter folds every such pair, whatever the modules are called)."""
    produced: dict[int, nn.Conv2d] = {}
    norms: dict[nn.Conv2d, nn.BatchNorm2d] = {}

    def conv_hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        produced[id(output)] = module

    def norm_hook(module: nn.Module, inputs: tuple) -> None:
        conv = produced.get(id(inputs[0]))
        if conv is not None:
            norms[conv] = module

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_pre_hook(norm_hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    size = getattr(getattr(model, "config", None), "input_size", 320)
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    return norms


def load_package_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load the package at ``path`` into ``model`` (built from the package's recipe), in place; returns it."""
    weights = package_conv_weights(path)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    missing, unknown = sorted(set(convs) - set(weights)), sorted(set(weights) - set(convs))
    if missing or unknown:
        raise ModelImportError(
            f"{path} does not fit this network: {len(missing)} network convolutions are missing from the package "
            f"(e.g. {missing[:2]}), {len(unknown)} package convolutions are not in the network (e.g. {unknown[:2]})"
        )
    wrong = [n for n, m in convs.items() if m.weight.shape != weights[n][0].shape]
    if wrong:
        n = wrong[0]
        shapes = f"{tuple(weights[n][0].shape)} against {tuple(convs[n].weight.shape)}"
        raise ModelImportError(f"{path} does not fit this network: {len(wrong)} convolutions of another shape "
                               f"(e.g. {n}: {shapes})")  # fmt: skip
    norms = conv_norms(model)
    with torch.no_grad():
        for name, conv in convs.items():
            weight, bias = weights[name]
            conv.weight.copy_(weight)
            bn = norms.get(conv)
            if bn is not None:
                bn.weight.fill_(1.0)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.bias.copy_(bias if bias is not None else torch.zeros_like(bn.bias))
                if conv.bias is not None:
                    conv.bias.zero_()
            elif conv.bias is not None:
                conv.bias.copy_(bias if bias is not None else torch.zeros_like(conv.bias))
            elif bias is not None and bias.abs().max() > 0:
                raise ModelImportError(f"{path}: convolution '{name}' has a bias the network has no place for")
    return model
