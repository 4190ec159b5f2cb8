"""Reader for ncnn .bin weight files (fp32 and fp16 blobs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelImportError

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_SCALED = 0x0002C056


class WeightReader:
    """Sequential reader mirroring ncnn's ModelBinFromDataReader."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelImportError(f"ncnn weight file not found: {self.path}")
        self.data = self.path.read_bytes()
        self.offset = 0

    def _take(self, nbytes: int, what: str) -> bytes:
        end = self.offset + nbytes
        if end > len(self.data):
            raise ModelImportError(
                f"{self.path} is truncated: {what} needs {nbytes} bytes at offset {self.offset}, "
                f"the file has {len(self.data)}"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def raw_fp32(self, count: int, what: str) -> np.ndarray:
        """A plain float32 array (ncnn's type-1 load, used for biases)."""
        return np.frombuffer(self._take(4 * count, what), "<f4").copy()

    def tagged(self, count: int, what: str) -> np.ndarray:
        """A weight array preceded by a 4-byte storage tag (ncnn's type-0 load)."""
        tag_bytes = self._take(4, what)
        tag = int.from_bytes(tag_bytes, "little")
        if tag == TAG_FP16:
            nbytes = (2 * count + 3) // 4 * 4
            return np.frombuffer(self._take(nbytes, what)[: 2 * count], "<f2").astype(np.float32)
        if tag == TAG_INT8:
            raise ModelImportError(
                f"{self.path}: {what} holds int8 weights; import the fp32/fp16 model instead"
            )
        if tag == TAG_FP32_SCALED or tag == 0:
            return self.raw_fp32(count, what)
        if any(tag_bytes):
            raise ModelImportError(
                f"{self.path}: {what} uses quantised weight storage (tag {tag:#010x}), not supported"
            )
        return self.raw_fp32(count, what)  # pragma: no cover - tag 0 handled above

    def finish(self) -> None:
        """Refuse a file with bytes left over: it does not belong to this .param."""
        left = len(self.data) - self.offset
        if left:
            raise ModelImportError(
                f"{self.path} has {left} bytes left after the last layer: it does not match the .param"
            )
