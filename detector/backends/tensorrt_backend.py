"""TensorRT backend: a cached engine per (package, GPU, TensorRT, options), device buffers through
cuda-python, pinned host memory, execution on a stream. A stale or foreign engine is rebuilt."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import ModelPackageError
from ..package import PackageMeta
from .base import Backend
from .torch_cuda_backend import nvidia_device_present


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, path: Path, fp16: bool = True, sparse: bool = False, max_batch: int = 8) -> None:
        super().__init__(path)
        from ..tensorrt.builder import build_engine, build_key, import_tensorrt
        from ..tensorrt.cuda import _cudart, check
        from ..tensorrt.engine_file import cache_path, read_engine

        trt = import_tensorrt()
        self.rt, self.check = _cudart(), check
        path = Path(path)
        if path.suffix == ".engine":
            meta, _, plan = read_engine(path)
        else:
            key = build_key(path, "fp16" if fp16 else "fp32", sparse, (1, 1, max_batch))
            engine_path = cache_path(path, key)
            plan = None
            if engine_path.exists():
                try:
                    meta, stored, plan = read_engine(engine_path)
                    plan = plan if stored == key else None
                except ModelPackageError:
                    plan = None
            if plan is None:
                build_engine(path, engine_path, fp16=fp16, sparse=sparse, batch=(1, 1, max_batch))
                meta, _, plan = read_engine(engine_path)
        self._meta: PackageMeta = meta
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise ModelPackageError(f"{path}: TensorRT could not deserialize the engine (rebuild it)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.stream = check(self.rt.cudaStreamCreate())
        self.buffers: dict[int, tuple] = {}

    @classmethod
    def available(cls) -> bool:
        return bool(nvidia_device_present() and importlib.util.find_spec("tensorrt")
                    and (importlib.util.find_spec("cuda") or importlib.util.find_spec("cuda.bindings")))  # fmt: skip

    @property
    def meta(self) -> PackageMeta:
        return self._meta

    def _buffers(self, n: int):
        if n not in self.buffers:
            from ..tensorrt.cuda import DeviceBuffer, PinnedArray

            m = self._meta
            in_shape = (n, 3, m.input_height, m.input_width)
            out_shape = (n, m.num_points(), m.output_channels)
            host_in, host_out = PinnedArray(in_shape), PinnedArray(out_shape)
            dev_in, dev_out = DeviceBuffer(host_in.array.nbytes), DeviceBuffer(host_out.array.nbytes)
            self.buffers[n] = (host_in, host_out, dev_in, dev_out)
        return self.buffers[n]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        host_in, host_out, dev_in, dev_out = self._buffers(len(batch))
        host_in.array[...] = batch
        dev_in.upload(host_in.array, self.stream)
        self.context.set_input_shape(self.input_name, host_in.array.shape)
        self.context.set_tensor_address(self.input_name, int(dev_in.ptr))
        self.context.set_tensor_address(self.output_name, int(dev_out.ptr))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execution failed")
        dev_out.download(host_out.array, self.stream)
        self.check(self.rt.cudaStreamSynchronize(self.stream))
        return host_out.array.copy()

    def close(self) -> None:
        for host_in, host_out, dev_in, dev_out in self.buffers.values():
            for b in (host_in, host_out, dev_in, dev_out):
                b.free()
        self.buffers.clear()

    def describe(self) -> str:
        return "tensorrt"
