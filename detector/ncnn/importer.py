"""`kestrel import` for ncnn models: .param/.bin -> a Kestrel model package (ONNX + metadata).

Two output layouts are recognised, the two NanoDet-Plus exports in the wild:
- one blob ``output`` = [P, C + 4*(reg_max+1)] (official onnx2ncnn export), and
- per-level blobs ``cls{stride}`` = [C, h, w] and ``dis{stride}`` = [h, w, 4*(reg_max+1)] (pnnx export).
Both are normalised to the package's ``gfl_bins`` layout [N, P, C + 4*(reg_max+1)].
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx

from ..coco_names import COCO_CLASSES
from ..errors import ModelImportError
from ..package import PackageMeta, write_meta
from .param import parse_param
from .to_onnx import NcnnToOnnx, Shape, make_model
from .weights import WeightReader

OUTPUT_NAME = "output"
STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64), (8, 16, 32, 64, 128))


def guess_input_size(path: Path) -> int | None:
    """NanoDet files carry their input size in the name (nanodet-plus-m_416.param)."""
    found = re.findall(r"(?<![0-9])(\d{3,4})(?![0-9])", path.stem)
    return int(found[-1]) if found else None


def import_ncnn(
    param_path: str | Path,
    output_path: str | Path,
    bin_path: str | Path | None = None,
    input_size: int | None = None,
    class_names: tuple[str, ...] | None = None,
    center_offset: float = 0.0,
    name: str | None = None,
) -> PackageMeta:
    """Convert an ncnn NanoDet-style model and write it as a model package. Returns its metadata."""
    param_path = Path(param_path)
    bin_path = Path(bin_path) if bin_path else param_path.with_suffix(".bin")
    layers = parse_param(param_path)
    weights = WeightReader(bin_path)
    size = input_size or _input_size_from_layers(layers) or guess_input_size(param_path)
    if not size:
        raise ModelImportError(f"cannot tell the input size of {param_path}; pass --input-size")
    conv = NcnnToOnnx(layers, weights, param_path)
    outputs = conv.convert((3, size, size))
    has_sigmoid = any(layer.type == "Sigmoid" for layer in layers)
    final, strides, channels = _normalise_outputs(conv, outputs, size)
    names = class_names or COCO_CLASSES
    reg_bins, rem = divmod(channels - len(names), 4)
    if rem or reg_bins < 2:
        raise ModelImportError(
            f"{param_path}: output has {channels} channels, which does not fit {len(names)} classes "
            "+ 4 box distributions; pass the right class names"
        )
    if not has_sigmoid:
        final = _sigmoid_classes(conv, final, len(names), channels)
    if final != OUTPUT_NAME:
        conv.emit("Identity", [final], OUTPUT_NAME, conv.shapes[final])
    model = make_model(conv, [(OUTPUT_NAME, conv.shapes[final])])
    meta = PackageMeta(
        name=name or param_path.stem,
        class_names=tuple(names),
        input_width=size,
        input_height=size,
        strides=strides,
        reg_max=reg_bins - 1,
        center_offset=center_offset,
        source=f"ncnn:{param_path.name}",
    )
    write_meta(model, meta)
    onnx.checker.check_model(model)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(output_path))
    return meta


def _input_size_from_layers(layers: list) -> int | None:
    for layer in layers:
        if layer.type == "Input":
            w, h = int(layer.get(0, 0)), int(layer.get(1, 0))
            if w > 0 and w == h:
                return w
    return None


def _normalise_outputs(conv: NcnnToOnnx, outputs: list[tuple[str, Shape]], size: int) -> tuple[str, tuple, int]:
    """Return (tensor [N, P, D], strides, D) for either known output layout."""
    by_name = {name.split("__")[0]: (name, shape) for name, shape in outputs}
    if len(outputs) == 1 and len(outputs[0][1]) == 2:
        tensor, (points, channels) = outputs[0]
        for strides in STRIDE_SETS:
            if sum((-(-size // s)) ** 2 for s in strides) == points:
                return tensor, strides, channels
        raise ModelImportError(f"output has {points} points, which fits no stride set {STRIDE_SETS} at {size}")
    levels = sorted(int(k[3:]) for k in by_name if re.fullmatch(r"cls\d+", k))
    if levels and all(f"dis{s}" in by_name for s in levels) and len(by_name) == 2 * len(levels):
        parts = []
        for s in levels:
            cls_name, (c, h, w) = by_name[f"cls{s}"]
            dis_name, (dh, dw, d) = by_name[f"dis{s}"]
            if (dh, dw) != (h, w):
                raise ModelImportError(f"cls{s} is {h}x{w} but dis{s} is {dh}x{dw}")
            flat = conv.emit("Reshape", [cls_name, conv.const("shape", np.array([0, c, h * w], np.int64))],
                             conv.name(f"cls{s}_flat"), (c, h * w))
            cls_t = conv.emit("Transpose", [flat], conv.name(f"cls{s}_t"), (h * w, c), perm=[0, 2, 1])
            dis_t = conv.emit("Reshape", [dis_name, conv.const("shape", np.array([0, h * w, d], np.int64))],
                              conv.name(f"dis{s}_flat"), (h * w, d))
            parts.append(conv.emit("Concat", [cls_t, dis_t], conv.name(f"level{s}"), (h * w, c + d), axis=2))
        points = sum(conv.shapes[p][0] for p in parts)
        channels = conv.shapes[parts[0]][1]
        merged = conv.emit("Concat", parts, conv.name("levels"), (points, channels), axis=1)
        return merged, tuple(levels), channels
    names = ", ".join(f"{n.split('__')[0]} {list(s)}" for n, s in outputs)
    raise ModelImportError(
        f"unrecognised output layout ({names}); expected one 'output' blob [P, C+4*(reg_max+1)] "
        "or per-level cls<stride>/dis<stride> blobs"
    )


def _sigmoid_classes(conv: NcnnToOnnx, tensor: str, num_classes: int, channels: int) -> str:
    points = conv.shapes[tensor][0]
    cls = conv.emit("Slice", [tensor, *(conv.const("s", np.array([v], np.int64)) for v in (0, num_classes, 2))],
                    conv.name("cls_logits"), (points, num_classes))
    box = conv.emit("Slice", [tensor, *(conv.const("s", np.array([v], np.int64)) for v in (num_classes, channels, 2))],
                    conv.name("box_bins"), (points, channels - num_classes))
    prob = conv.emit("Sigmoid", [cls], conv.name("cls_prob"), (points, num_classes))
    return conv.emit("Concat", [prob, box], conv.name("scored"), (points, channels), axis=2)
