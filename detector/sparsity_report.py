"""Per-layer 2:4 compliance of an exported ONNX: proof that masks survived BN folding and export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelPackageError


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    shape: tuple[int, ...]
    eligible: bool  # TensorRT-eligible: ungrouped, out % 8 == 0, in % 16 == 0
    compliance: float  # share of 4-groups along input channels with >= 2 zeros
    zeros: float  # share of zero weights


def two_four_compliance(weight: np.ndarray) -> float:
    """Share of groups of 4 consecutive input-channel weights with at least 2 zeros."""
    if weight.ndim < 2 or weight.shape[1] % 4:
        return 0.0
    moved = np.moveaxis(weight, 1, -1) if weight.ndim > 2 else weight
    return float(((moved.reshape(-1, 4) == 0).sum(axis=1) >= 2).mean())


def sparsity_report(path: str | Path) -> list[LayerSparsity]:
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise ModelPackageError(f"model package not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ModelPackageError(f"{path} is not a readable ONNX file ({type(exc).__name__})") from None
    inits = {t.name: t for t in model.graph.initializer}
    rows = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        if node.op_type == "MatMul":
            w = w.T  # (in, out) -> (out, in)
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        eligible = w.ndim >= 2 and group == 1 and w.shape[0] % 8 == 0 and w.shape[1] % 16 == 0
        rows.append(LayerSparsity(node.name or node.output[0], tuple(w.shape), eligible,
                                  two_four_compliance(w), float((w == 0).mean())))  # fmt: skip
    return rows
