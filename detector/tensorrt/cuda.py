"""Device and pinned host memory through cuda-python (NVIDIA's samples' choice since TensorRT 8.6;
pycuda is source-only and needs the CUDA toolkit to build)."""

from __future__ import annotations

import numpy as np

from ..errors import BackendError


def _cudart():
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # cuda-python < 12.6
        except ImportError:
            raise BackendError("TensorRT buffers need cuda-python: pip install 'kestrel-vision[gpu]'") from None
    return runtime


def check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendError(f"CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


class DeviceBuffer:
    def __init__(self, nbytes: int) -> None:
        self.rt = _cudart()
        self.nbytes = nbytes
        self.ptr = check(self.rt.cudaMalloc(nbytes))

    def upload(self, array: np.ndarray, stream=None) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        if stream is None:
            check(self.rt.cudaMemcpy(self.ptr, array.ctypes.data, array.nbytes, kind))
        else:
            check(self.rt.cudaMemcpyAsync(self.ptr, array.ctypes.data, array.nbytes, kind, stream))

    def download(self, array: np.ndarray, stream) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        check(self.rt.cudaMemcpyAsync(array.ctypes.data, self.ptr, array.nbytes, kind, stream))

    def free(self) -> None:
        if self.ptr:
            self.rt.cudaFree(self.ptr)
            self.ptr = 0


class PinnedArray:
    """A numpy array over page-locked host memory (fast, asynchronous copies)."""

    def __init__(self, shape: tuple[int, ...], dtype=np.float32) -> None:
        import ctypes

        self.rt = _cudart()
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.ptr = check(self.rt.cudaMallocHost(nbytes))
        buf = (ctypes.c_byte * nbytes).from_address(int(self.ptr))
        self.array = np.frombuffer(buf, dtype=dtype).reshape(shape)

    def free(self) -> None:
        if self.ptr:
            self.rt.cudaFreeHost(self.ptr)
            self.ptr = 0
