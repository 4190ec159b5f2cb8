"""Small ONNX graph helpers shared by the GPU backends and exporters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def fill_clip_bounds(model) -> object:
    """Give every Clip explicit min/max inputs (-inf/+inf where omitted). Converters such as onnx2torch
    reject the omitted form that ReLU6 exports use; the graph's meaning is unchanged."""
    from onnx import numpy_helper

    graph, count = model.graph, 0
    for node in graph.node:
        if node.op_type != "Clip":
            continue
        inputs = list(node.input) + [""] * (3 - len(node.input))
        for slot, value in ((1, -np.inf), (2, np.inf)):
            if inputs[slot] == "":
                name = f"kestrel_clip_bound_{count}"
                count += 1
                graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
                inputs[slot] = name
        del node.input[:]
        node.input.extend(inputs)
    return model


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def name_unnamed_nodes(model) -> object:
    """Give every node a unique name (tools that derive names from node names need it)."""
    taken = {n.name for n in model.graph.node if n.name}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            candidate = f"{node.op_type}_{i}"
            while candidate in taken:
                candidate += "_"
            node.name = candidate
            taken.add(candidate)
    return model


def specialise_batch(model, batch: int) -> object:
    """The same graph with a fixed batch size and its shape arithmetic folded to constants
    (ONNX Runtime's basic, standard-ops-only optimisations: constant folding, redundant nodes)."""
    import os
    import tempfile

    import onnx
    import onnxruntime as ort

    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.onnx"), os.path.join(tmp, "out.onnx")
        onnx.save(model, src)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = dst
        ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
        return onnx.load(dst)
