"""Optional in-graph decoding: turn a ``gfl_bins`` package into a ``gfl_distances`` one.

Adds softmax + expectation over each side's bins to the ONNX graph, so the runtime receives
[N, P, C + 4] instead of [N, P, C + 4*(reg_max+1)]. benchmarks/decode_placement.py measures both;
numpy decoding of only the above-threshold points stays the default (see README).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .package import PackageMeta, meta_from_props, write_meta


def add_distance_decoding(model: onnx.ModelProto) -> tuple[onnx.ModelProto, PackageMeta]:
    meta = meta_from_props({p.key: p.value for p in model.metadata_props}, "model")
    if meta.output_layout != "gfl_bins":
        raise ValueError(f"package layout is {meta.output_layout}, expected gfl_bins")
    graph = model.graph
    c, bins, points = meta.num_classes, meta.reg_max + 1, meta.num_points()
    old = graph.output[0].name
    renamed = old + "_bins"
    for node in graph.node:
        node.output[:] = [renamed if o == old else o for o in node.output]

    def const(name: str, value: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    i64 = lambda v: np.array(v, np.int64)  # noqa: E731
    graph.node.extend([
        helper.make_node("Slice", [renamed, const("dec_s0", i64([0])), const("dec_e0", i64([c])),
                                   const("dec_ax", i64([2]))], ["dec_cls"]),
        helper.make_node("Slice", [renamed, const("dec_s1", i64([c])), const("dec_e1", i64([c + 4 * bins])),
                                   "dec_ax"], ["dec_bins"]),
        helper.make_node("Reshape", ["dec_bins", const("dec_shape4", i64([0, points, 4, bins]))], ["dec_bins4"]),
        helper.make_node("Softmax", ["dec_bins4"], ["dec_prob"], axis=-1),
        helper.make_node("MatMul", ["dec_prob", const("dec_proj", np.arange(bins, dtype=np.float32)[:, None])],
                         ["dec_dist1"]),
        helper.make_node("Reshape", ["dec_dist1", const("dec_shape3", i64([0, points, 4]))], ["dec_dist"]),
        helper.make_node("Concat", ["dec_cls", "dec_dist"], [old], axis=2),
    ])  # fmt: skip
    graph.output[0].type.tensor_type.shape.dim[2].dim_value = c + 4
    new_meta = meta.with_changes(output_layout="gfl_distances")
    write_meta(model, new_meta)
    onnx.checker.check_model(model)
    return model, new_meta
