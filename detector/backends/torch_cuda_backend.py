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
        self.torch, self.convert = torch, convert
        self.onnx_model = onnx.load(str(path))
        self._meta: PackageMeta = meta_from_props({p.key: p.value for p in self.onnx_model.metadata_props}, str(path))
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        self.fp16, self.cuda_graphs = fp16 and on_gpu, cuda_graphs and on_gpu
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.dtype = torch.float16 if self.fp16 else torch.float32
        if on_gpu and not self.fp16:  # true FP32: cuDNN and cuBLAS would otherwise round to TF32 on Ampere+
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.modules: dict[int, object] = {}
        self.graphs: dict[int, tuple] = {}
        self.graph_error = ""

    def module_for(self, batch: int):
        """A torch module of the graph specialised to ``batch`` (shape arithmetic folded away)."""
        if batch not in self.modules:
            from ..onnx_graph import fill_clip_bounds, specialise_batch

            graph = fill_clip_bounds(specialise_batch(self.onnx_model, batch))
            module = self.convert(graph).eval().to(self.device)
            if self.fp16:
                module = module.half()
            module = module.to(memory_format=self.memory_format)
            if self.device.type == "cuda":
                self._host_constants(module)
            self.modules[batch] = module
        return self.modules[batch]

    def _host_constants(self, module) -> None:
        """onnx2torch's Reshape/Slice/Resize/Split/TopK read their constant shapes, indices and scales on
        the host; left in device memory each read is a synchronisation, which CUDA-graph capture forbids."""
        host_ops = ("Reshape", "Slice", "Resize", "Split", "TopK", "Expand", "Tile", "Unsqueeze", "Squeeze")
        for node in module.graph.nodes:
            if node.op != "get_attr" or not node.users:
                continue
            consumers = [type(module.get_submodule(u.target)).__name__ for u in node.users if u.op == "call_module"]
            if len(consumers) == len(node.users) and all(any(op in c for op in host_ops) for c in consumers):
                owner_name, _, attr = node.target.rpartition(".")
                owner = module.get_submodule(owner_name) if owner_name else module
                owner._buffers[attr] = owner._buffers[attr].cpu()

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
            return self.module_for(x.shape[0])(x).float()

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
            try:
                graph, static_in, static_out = self._graph_for(tuple(x.shape))
            except RuntimeError as exc:  # capture refused by an op: run eagerly from now on, and say why
                self.cuda_graphs, self.graph_error = False, str(exc).splitlines()[0]
                torch.cuda.synchronize()
            else:
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
        elif self.graph_error:
            flags.append(f"CUDA graphs failed: {self.graph_error}")
        return f"torch-cuda ({', '.join(flags)})"
