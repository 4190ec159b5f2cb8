"""INT8 entropy calibration over real images (TensorRT's implicit-quantization path).

TensorRT 10 deprecates, and TensorRT 11 removes, calibrators: there INT8 must come from a Q/DQ ONNX.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import KestrelError
from ..images import read_image
from ..preprocess import Preprocessor
from .cuda import DeviceBuffer


def make_calibrator(trt, images: list[Path], preprocessor: Preprocessor, batch: int, cache: Path):
    base = getattr(trt, "IInt8EntropyCalibrator2", None)
    if base is None:
        raise KestrelError(f"TensorRT {trt.__version__} has no INT8 calibrator: INT8 needs a Q/DQ-quantised ONNX")

    class EntropyCalibrator(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.batches = [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]
            self.index = 0
            shape = (batch, 3, preprocessor.height, preprocessor.width)
            self.buffer = DeviceBuffer(int(np.prod(shape)) * 4)

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names):  # noqa: ARG002 - TensorRT's signature
            if self.index >= len(self.batches):
                return None
            blob = np.stack([preprocessor(read_image(p))[0] for p in self.batches[self.index]])
            self.index += 1
            self.buffer.upload(np.ascontiguousarray(blob, np.float32))
            return [int(self.buffer.ptr)]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.exists() else None

        def write_calibration_cache(self, data) -> None:
            cache.write_bytes(bytes(data))

    return EntropyCalibrator()
