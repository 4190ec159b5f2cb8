"""Convert a parsed ncnn graph to an ONNX graph, layer by layer, with static shapes.

Blob shapes are tracked in ncnn's own order without batch — (c, h, w), (h, w) or (w,) — and every
ONNX tensor is [N] + that shape, so ncnn axis ``a`` is ONNX axis ``a + 1``. The batch stays dynamic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ModelImportError
from .param import NcnnLayer
from .weights import WeightReader

OPSET = 17
INPUT_NAME = "images"
Shape = tuple[int, ...]
ACTIVATIONS = {0: "none", 1: "relu", 2: "leakyrelu", 3: "clip", 4: "sigmoid", 5: "mish", 6: "hardswish"}
BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow"}


class NcnnToOnnx:
    """Builds ONNX nodes for ncnn layers; ``convert`` returns the graph's (name, shape) outputs."""

    def __init__(self, layers: list[NcnnLayer], weights: WeightReader, param_path: Path) -> None:
        self.layers, self.weights, self.param_path = layers, weights, param_path
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.shapes: dict[str, Shape] = {}
        self.alias: dict[str, str] = {}  # ncnn blob -> ONNX tensor (Split makes aliases)
        self._uid = 0
        self.handlers: dict[str, Callable[[NcnnLayer], None]] = {
            "Input": self._input, "Convolution": self._conv, "ConvolutionDepthWise": self._conv,
            "Pooling": self._pool, "Split": self._split, "Concat": self._concat,
            "ShuffleChannel": self._shuffle, "Crop": self._crop, "Slice": self._slice,
            "Interp": self._interp, "BinaryOp": self._binary, "Sigmoid": self._unary("Sigmoid"),
            "TanH": self._unary("Tanh"), "ReLU": self._relu, "Clip": self._clip,
            "Swish": self._swish, "Reshape": self._reshape, "Permute": self._permute,
            "Noop": self._identity, "Dropout": self._identity,
        }  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, layer: NcnnLayer, why: str) -> ModelImportError:
        return ModelImportError(f"{self.param_path}:{layer.line}: {layer.type} '{layer.name}': {why}")

    def name(self, hint: str) -> str:
        self._uid += 1
        return f"{hint}__{self._uid}"

    def const(self, hint: str, array: np.ndarray) -> str:
        tensor_name = self.name(hint)
        self.inits.append(numpy_helper.from_array(array, tensor_name))
        return tensor_name

    def src(self, blob: str) -> str:
        return self.alias.get(blob, blob)

    def shape(self, layer: NcnnLayer, index: int = 0) -> Shape:
        blob = layer.inputs[index]
        if blob not in self.shapes:
            raise self.fail(layer, f"input blob '{blob}' is not produced by any earlier layer")
        return self.shapes[blob]

    def emit(self, op: str, inputs: list[str], output: str, shape: Shape, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        self.shapes[output] = shape
        return output

    def axis(self, layer: NcnnLayer, axis: int, rank: int) -> int:
        if axis < 0:
            axis += rank
        if not 0 <= axis < rank:
            raise self.fail(layer, f"axis {axis} out of range for a {rank}-d blob")
        return axis

    # -- driver ----------------------------------------------------------------------------
    def convert(self, input_shape: Shape) -> list[tuple[str, Shape]]:
        self.input_shape = input_shape
        consumed: set[str] = set()
        for layer in self.layers:
            handler = self.handlers.get(layer.type)
            if handler is None:
                raise self.fail(layer, f"layer type not supported (supported: {', '.join(self.handlers)})")
            handler(layer)
            consumed.update(layer.inputs)
        self.weights.finish()
        produced = [b for layer in self.layers for b in layer.outputs]
        return [(self.src(b), self.shapes[b]) for b in produced if b not in consumed]

    # -- layers ----------------------------------------------------------------------------
    def _input(self, layer: NcnnLayer) -> None:
        self.alias[layer.outputs[0]] = INPUT_NAME
        self.shapes[layer.outputs[0]] = self.input_shape

    def _identity(self, layer: NcnnLayer) -> None:
        self.alias[layer.outputs[0]] = self.src(layer.inputs[0])
        self.shapes[layer.outputs[0]] = self.shape(layer)

    def _split(self, layer: NcnnLayer) -> None:
        for out in layer.outputs:
            self.alias[out] = self.src(layer.inputs[0])
            self.shapes[out] = self.shape(layer)

    def _conv(self, layer: NcnnLayer) -> None:
        c, h, w = self._chw(layer)
        out_c = int(layer.get(0, 0))
        kw = int(layer.get(1, 0))
        kh = int(layer.get(11, kw))
        dw = int(layer.get(2, 1))
        dh = int(layer.get(12, dw))
        sw = int(layer.get(3, 1))
        sh = int(layer.get(13, sw))
        group = int(layer.get(7, 1)) if layer.type == "ConvolutionDepthWise" else 1
        if layer.get(8, 0):
            raise self.fail(layer, "int8 convolution; import the fp32/fp16 model instead")
        if float(layer.get(18, 0.0)) != 0.0:
            raise self.fail(layer, "non-zero pad value is not supported")
        size = int(layer.get(6, 0))
        if c % group or out_c % group or size != out_c * (c // group) * kh * kw:
            raise self.fail(layer, f"weight size {size} does not fit {c}->{out_c} k{kh}x{kw} g{group}")
        weight = self.weights.tagged(size, f"layer '{layer.name}' weights").reshape(out_c, c // group, kh, kw)
        inputs = [self.src(layer.inputs[0]), self.const(layer.name + "_w", weight)]
        if layer.get(5, 0):
            inputs.append(self.const(layer.name + "_b", self.weights.raw_fp32(out_c, f"layer '{layer.name}' bias")))
        attrs: dict[str, object] = dict(kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], group=group)
        pl = int(layer.get(4, 0))
        if pl in (-233, -234):
            attrs["auto_pad"] = "SAME_UPPER" if pl == -233 else "SAME_LOWER"
            oh, ow = -(-h // sh), -(-w // sw)
        else:
            pt = int(layer.get(14, pl))
            pr = int(layer.get(15, pl))
            pb = int(layer.get(16, pt))
            attrs["pads"] = [pt, pl, pb, pr]
            oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
            ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
        out = layer.outputs[0]
        act = ACTIVATIONS.get(int(layer.get(9, 0)))
        if act is None:
            raise self.fail(layer, f"activation type {layer.get(9, 0)} not supported")
        conv_out = out if act == "none" else self.name(out + "_conv")
        self.emit("Conv", inputs, conv_out, (out_c, oh, ow), **attrs)
        if act != "none":
            self._activation(layer, act, conv_out, out, list(layer.array(10) or []))

    def _activation(self, layer: NcnnLayer, act: str, x: str, out: str, args: list) -> None:
        shape = self.shapes[x]
        if act == "relu":
            self.emit("Relu", [x], out, shape)
        elif act == "leakyrelu":
            self.emit("LeakyRelu", [x], out, shape, alpha=float(args[0]) if args else 0.0)
        elif act == "clip":
            lo, hi = (float(args[0]), float(args[1])) if len(args) >= 2 else (0.0, 6.0)
            self._emit_clip(x, out, shape, lo, hi)
        elif act == "sigmoid":
            self.emit("Sigmoid", [x], out, shape)
        elif act == "mish":
            sp = self.emit("Softplus", [x], self.name(out + "_sp"), shape)
            th = self.emit("Tanh", [sp], self.name(out + "_th"), shape)
            self.emit("Mul", [x, th], out, shape)
        elif act == "hardswish":
            alpha, beta = (float(args[0]), float(args[1])) if len(args) >= 2 else (0.2, 0.5)
            hs = self.emit("HardSigmoid", [x], self.name(out + "_hs"), shape, alpha=alpha, beta=beta)
            self.emit("Mul", [x, hs], out, shape)

    def _emit_clip(self, x: str, out: str, shape: Shape, lo: float, hi: float) -> None:
        lo_name = self.const("clip_lo", np.array(lo, np.float32))
        hi_name = self.const("clip_hi", np.array(hi, np.float32))
        self.emit("Clip", [x, lo_name, hi_name], out, shape)

    def _chw(self, layer: NcnnLayer) -> tuple[int, int, int]:
        shape = self.shape(layer)
        if len(shape) != 3:
            raise self.fail(layer, f"expects a 3-d (c, h, w) blob, got {shape}")
        return shape  # type: ignore[return-value]

    def _pool(self, layer: NcnnLayer) -> None:
        c, h, w = self._chw(layer)
        kind = "MaxPool" if int(layer.get(0, 0)) == 0 else "AveragePool"
        out = layer.outputs[0]
        if int(layer.get(4, 0)):
            self.emit("Global" + kind, [self.src(layer.inputs[0])], out, (c, 1, 1))
            return
        kw = int(layer.get(1, 0))
        kh = int(layer.get(11, kw))
        sw = int(layer.get(2, 1))
        sh = int(layer.get(12, sw))
        pl = int(layer.get(3, 0))
        pr = int(layer.get(14, pl))
        pt = int(layer.get(13, pl))
        pb = int(layer.get(15, pt))
        mode = int(layer.get(5, 0))
        attrs: dict[str, object] = dict(kernel_shape=[kh, kw], strides=[sh, sw])
        if mode in (2, 3):
            attrs["auto_pad"] = "SAME_UPPER" if mode == 2 else "SAME_LOWER"
            oh, ow = -(-h // sh), -(-w // sw)
        else:
            ceil = mode == 0
            attrs.update(pads=[pt, pl, pb, pr], ceil_mode=int(ceil))
            rnd = (lambda a, b: -(-a // b)) if ceil else (lambda a, b: a // b)
            oh = rnd(h + pt + pb - kh, sh) + 1
            ow = rnd(w + pl + pr - kw, sw) + 1
        if kind == "AveragePool":
            attrs["count_include_pad"] = int(layer.get(6, 0))
        self.emit(kind, [self.src(layer.inputs[0])], out, (c, oh, ow), **attrs)

    def _concat(self, layer: NcnnLayer) -> None:
        shapes = [self.shape(layer, i) for i in range(len(layer.inputs))]
        rank = len(shapes[0])
        axis = self.axis(layer, int(layer.get(0, 0)), rank)
        if any(len(s) != rank or s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :] for s in shapes):
            raise self.fail(layer, f"cannot concatenate shapes {shapes} on axis {axis}")
        out_shape = list(shapes[0])
        out_shape[axis] = sum(s[axis] for s in shapes)
        self.emit("Concat", [self.src(b) for b in layer.inputs], layer.outputs[0], tuple(out_shape), axis=axis + 1)

    def _shuffle(self, layer: NcnnLayer) -> None:
        c, h, w = self._chw(layer)
        group = int(layer.get(0, 1))
        if c % group:
            raise self.fail(layer, f"{c} channels do not split into {group} groups")
        first = c // group if int(layer.get(1, 0)) else group
        x = self.src(layer.inputs[0])
        a = self.emit("Reshape", [x, self.const("shape", np.array([0, first, c // first, h * w], np.int64))],
                      self.name("shuffle_a"), (first, c // first, h * w))
        t = self.emit("Transpose", [a], self.name("shuffle_t"), (c // first, first, h * w), perm=[0, 2, 1, 3])
        self.emit("Reshape", [t, self.const("shape", np.array([0, c, h, w], np.int64))], layer.outputs[0], (c, h, w))

    def _crop(self, layer: NcnnLayer) -> None:
        starts, ends, axes = layer.array(9), layer.array(10), layer.array(11)
        if starts is None or ends is None:
            raise self.fail(layer, "only the starts/ends/axes form of Crop is supported")
        shape = list(self.shape(layer))
        axes = list(axes) if axes else list(range(len(starts)))
        onnx_axes, onnx_starts, onnx_ends = [], [], []
        for a, s, e in zip(axes, starts, ends, strict=True):
            a = self.axis(layer, int(a), len(shape))
            size = shape[a]
            e = size if e == -233 else (e + size if e < 0 else min(e, size))
            s = s + size if s < 0 else s
            onnx_axes.append(a + 1)
            onnx_starts.append(s)
            onnx_ends.append(e)
            shape[a] = e - s
        self._emit_slice(layer.inputs[0], layer.outputs[0], onnx_starts, onnx_ends, onnx_axes, tuple(shape))

    def _emit_slice(self, blob: str, out: str, starts: list, ends: list, axes: list, shape: Shape) -> None:
        args = [self.const("s", np.array(v, np.int64)) for v in (starts, ends, axes)]
        self.emit("Slice", [self.src(blob), *args], out, shape)

    def _slice(self, layer: NcnnLayer) -> None:
        shape = self.shape(layer)
        axis = self.axis(layer, int(layer.get(1, 0)), len(shape))
        sizes = layer.array(0)
        if sizes is None or len(sizes) != len(layer.outputs):
            raise self.fail(layer, "needs one slice size per output")
        total, start = shape[axis], 0
        for i, (size, out) in enumerate(zip(sizes, layer.outputs, strict=True)):
            if size == -233:
                size = (total - start) // (len(sizes) - i)
            out_shape = list(shape)
            out_shape[axis] = size
            self._emit_slice(layer.inputs[0], out, [start], [start + size], [axis + 1], tuple(out_shape))
            start += size
        if start != total:
            raise self.fail(layer, f"slices cover {start} of {total} elements")

    def _interp(self, layer: NcnnLayer) -> None:
        c, h, w = self._chw(layer)
        mode = {1: "nearest", 2: "linear", 3: "cubic"}.get(int(layer.get(0, 0)))
        if mode is None:
            raise self.fail(layer, f"resize type {layer.get(0, 0)} not supported")
        oh, ow = int(layer.get(3, 0)), int(layer.get(4, 0))
        fy, fx = float(layer.get(1, 1.0)), float(layer.get(2, 1.0))
        if not (oh and ow):
            oh, ow = int(h * fy), int(w * fx)
        align = "align_corners" if int(layer.get(6, 0)) else "half_pixel"
        ctm = "asymmetric" if mode == "nearest" else align
        scales = np.array([1.0, 1.0, oh / h, ow / w], np.float32)
        if int(h * scales[2]) == oh and int(w * scales[3]) == ow:  # static scales: cheapest for ORT
            args = ["", self.const("scales", scales)]
        else:
            args = ["", "", self._dynamic_sizes(layer.inputs[0], [c, oh, ow])]
        self.emit("Resize", [self.src(layer.inputs[0]), *args], layer.outputs[0], (c, oh, ow),
                  mode=mode, coordinate_transformation_mode=ctm, nearest_mode="floor")

    def _dynamic_sizes(self, blob: str, tail: list[int]) -> str:
        """[N] + tail as an int64 tensor, N read from the input at run time."""
        shp = self.emit("Shape", [self.src(blob)], self.name("shape"), (4,))
        start, end = (self.const("s", np.array([v], np.int64)) for v in (0, 1))
        n = self.emit("Slice", [shp, start, end], self.name("batch"), (1,))
        return self.emit("Concat", [n, self.const("tail", np.array(tail, np.int64))], self.name("sizes"), (4,), axis=0)

    def _binary(self, layer: NcnnLayer) -> None:
        op_type = int(layer.get(0, 0))
        reverse = op_type in (7, 8)
        op = {7: "Sub", 8: "Div"}.get(op_type) or BINARY_OPS.get(op_type)
        if op is None:
            raise self.fail(layer, f"binary op type {op_type} not supported")
        a = self.src(layer.inputs[0])
        shape = self.shape(layer)
        if int(layer.get(1, 0)):
            b = self.const("scalar", np.array(float(layer.get(2, 0.0)), np.float32))
        else:
            if self.shape(layer, 1) != shape:
                raise self.fail(layer, f"broadcast of {shape} with {self.shape(layer, 1)} not supported")
            b = self.src(layer.inputs[1])
        self.emit(op, [b, a] if reverse else [a, b], layer.outputs[0], shape)

    def _unary(self, op: str) -> Callable[[NcnnLayer], None]:
        def handler(layer: NcnnLayer) -> None:
            self.emit(op, [self.src(layer.inputs[0])], layer.outputs[0], self.shape(layer))
        return handler

    def _relu(self, layer: NcnnLayer) -> None:
        slope = float(layer.get(0, 0.0))
        self._activation(layer, "leakyrelu" if slope else "relu", self.src(layer.inputs[0]),
                         layer.outputs[0], [slope])
        self.shapes[layer.outputs[0]] = self.shape(layer)

    def _clip(self, layer: NcnnLayer) -> None:
        self._emit_clip(self.src(layer.inputs[0]), layer.outputs[0], self.shape(layer),
                        float(layer.get(0, -3.4e38)), float(layer.get(1, 3.4e38)))

    def _swish(self, layer: NcnnLayer) -> None:
        x, shape = self.src(layer.inputs[0]), self.shape(layer)
        s = self.emit("Sigmoid", [x], self.name("swish_s"), shape)
        self.emit("Mul", [x, s], layer.outputs[0], shape)

    def _reshape(self, layer: NcnnLayer) -> None:
        if int(layer.get(3, 0)):
            raise self.fail(layer, "channel-last flattening (3=1) is not supported")
        src_shape = self.shape(layer)
        w, h, c = int(layer.get(0, -233)), int(layer.get(1, -233)), int(layer.get(2, -233))
        if int(layer.get(11, -233)) != -233:
            raise self.fail(layer, "4-d reshape is not supported")
        target = [w] if h == -233 else ([h, w] if c == -233 else [c, h, w])
        count = int(np.prod(src_shape))
        resolved = [src_shape[len(src_shape) - len(target) + i] if v == 0 else v for i, v in enumerate(target)]
        known = int(np.prod([v for v in resolved if v != -1]))
        resolved = [count // known if v == -1 else v for v in resolved]
        if int(np.prod(resolved)) != count:
            raise self.fail(layer, f"cannot reshape {src_shape} to {target}")
        self.emit("Reshape", [self.src(layer.inputs[0]), self.const("shape", np.array([0, *resolved], np.int64))],
                  layer.outputs[0], tuple(resolved))

    def _permute(self, layer: NcnnLayer) -> None:
        shape = self.shape(layer)
        order = int(layer.get(0, 0))
        # ncnn names orders innermost-first (w h c); these are the equivalent ONNX perms.
        perms = {
            2: {0: [0, 1, 2], 1: [0, 2, 1]},
            3: {0: [0, 1, 2, 3], 1: [0, 1, 3, 2], 2: [0, 2, 1, 3], 3: [0, 2, 3, 1], 4: [0, 3, 1, 2], 5: [0, 3, 2, 1]},
        }
        perm = perms.get(len(shape), {}).get(order)
        if perm is None:
            raise self.fail(layer, f"order type {order} on a {len(shape)}-d blob not supported")
        out_shape = tuple(shape[p - 1] for p in perm[1:])
        self.emit("Transpose", [self.src(layer.inputs[0])], layer.outputs[0], out_shape, perm=perm)


def make_model(conv: NcnnToOnnx, outputs: list[tuple[str, Shape]]) -> onnx.ModelProto:
    """Wrap converted nodes into a ModelProto with a dynamic batch dimension."""
    inp = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", *conv.input_shape])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", *s]) for n, s in outputs]
    graph = helper.make_graph(conv.nodes, "kestrel", [inp], outs, conv.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kestrel")
    model.ir_version = 8
    return model
