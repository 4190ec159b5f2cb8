"""PyTorch backend for any model package on an NVIDIA GPU without TensorRT.

The ONNX graph is turned into a torch module (onnx2torch), then run in FP16, channels-last, and
replayed through CUDA graphs per batch size. Also runs on the CPU (fp32, no graphs) for parity tests.
Importing this module does not import torch; constructing the backend does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import BackendError
from ..package import PackageMeta, meta_from_props
from .base import Backend


def nvidia_device_present() -> bool:
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()


class TorchCudaBackend(Backend):
    name = "torch-cuda"

    def __init__(self, path: Path, device: str = "cuda", fp16: bool = True, channels_last: bool = True,
                 cuda_graphs: bool = True) -> None:  # fmt: skip
        super().__init__(path)
        try:
            import onnx
            import torch
            from onnx2torch import convert
        except ImportError as exc:
            raise BackendError(f"the torch-cuda backend needs torch and onnx2torch ({exc})") from None
        from ..onnx_graph import fill_clip_bounds

        self.torch = torch
        model = onnx.load(str(path))
        self._meta: PackageMeta = meta_from_props({p.key: p.value for p in model.metadata_props}, str(path))
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        self.fp16, self.cuda_graphs = fp16 and on_gpu, cuda_graphs and on_gpu
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        module = convert(fill_clip_bounds(model)).eval().to(self.device)
        if self.fp16:
            module = module.half()
        self.module = module.to(memory_format=self.memory_format)
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.graphs: dict[int, tuple] = {}

    @classmethod
    def available(cls) -> bool:
        needed = ("torch", "onnx2torch")
        if not (nvidia_device_present() and all(importlib.util.find_spec(m) for m in needed)):
            return False
        import torch

        return torch.cuda.is_available()

    @property
    def meta(self) -> PackageMeta:
        return self._meta

    def _run(self, x):
        with self.torch.inference_mode():
            return self.module(x).float()

    def _graph_for(self, shape: tuple[int, ...]):
        torch = self.torch
        if shape[0] not in self.graphs:
            static_in = torch.zeros(shape, dtype=self.dtype, device=self.device).contiguous(
                memory_format=self.memory_format
            )
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self._run(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._run(static_in)
            self.graphs[shape[0]] = (graph, static_in, static_out)
        return self.graphs[shape[0]]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        x = torch.from_numpy(batch).to(self.device, non_blocking=True).to(self.dtype)
        x = x.contiguous(memory_format=self.memory_format)
        if self.cuda_graphs:
            graph, static_in, static_out = self._graph_for(tuple(x.shape))
            static_in.copy_(x)
            graph.replay()
            return static_out.cpu().numpy()
        return self._run(x).cpu().numpy()

    def describe(self) -> str:
        flags = [str(self.device), "fp16" if self.fp16 else "fp32"]
        if self.memory_format is self.torch.channels_last:
            flags.append("channels-last")
        if self.cuda_graphs:
            flags.append("CUDA graphs")
        return f"torch-cuda ({', '.join(flags)})"
