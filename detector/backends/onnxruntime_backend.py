"""ONNX Runtime backend: the CPU path (and any other ORT execution provider present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendError, ModelPackageError
from ..package import PackageMeta, meta_from_props
from .base import Backend


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int = 0, providers: list[str] | None = None) -> None:
        super().__init__(path)
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - base dependency
            raise BackendError(f"onnxruntime is not installed ({exc})") from None
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(path), opts, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelPackageError(f"{path} cannot be loaded by ONNX Runtime: {first}") from None
        self._meta = meta_from_props(self.session.get_modelmeta().custom_metadata_map, str(path))
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    @property
    def meta(self) -> PackageMeta:
        return self._meta

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def describe(self) -> str:
        return f"onnxruntime ({', '.join(self.session.get_providers())})"
