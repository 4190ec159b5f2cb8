"""Backend registry and the ``auto`` choice."""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendError
from .base import Backend
from .onnxruntime_backend import OnnxRuntimeBackend
from .tensorrt_backend import TensorRTBackend
from .torch_cuda_backend import TorchCudaBackend

BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (TensorRTBackend, TorchCudaBackend, OnnxRuntimeBackend)
}
# ``auto`` takes the first available: TensorRT, then PyTorch on CUDA, then ONNX Runtime on the CPU.
# Each ``available()`` looks for an NVIDIA device before importing anything heavy (no torch on CPU hosts).
AUTO_ORDER: list[str] = [TensorRTBackend.name, TorchCudaBackend.name, OnnxRuntimeBackend.name]


def choose_backend(name: str) -> type[Backend]:
    """The backend class for ``name`` ("auto" picks the first available in AUTO_ORDER)."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            cls = BACKENDS[candidate]
            if cls.available():
                return cls
        raise BackendError("no inference backend is available on this machine")
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}' (choose from auto, {', '.join(BACKENDS)})")
    cls = BACKENDS[name]
    if not cls.available():
        raise BackendError(f"backend '{name}' is not available on this machine")
    return cls


def open_backend(path: Path, name: str = "auto", **options: object) -> Backend:
    return choose_backend(name)(path, **options)


__all__ = ["AUTO_ORDER", "BACKENDS", "Backend", "choose_backend", "open_backend"]
