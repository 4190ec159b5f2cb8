"""Frame -> network input, and the inverse mapping for boxes."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .package import PackageMeta


@dataclass(frozen=True)
class InputTransform:
    """How a frame was placed into the network input: input = frame * scale + pad."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def boxes_to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Map xyxy boxes from network-input pixels back to frame pixels, clipped to the frame."""
        out = np.empty_like(boxes)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.frame_height, out=out[:, 1::2])
        return out


class Preprocessor:
    """Resizes (stretch or letterbox), orders colours and normalises as the package says.

    Normalisation and the HWC->CHW layout run in one OpenCV call (``blobFromImageWithParams``):
    bit-identical to the numpy expression and about 5x faster (benchmarks/model_speed.py).
    """

    def __init__(self, meta: PackageMeta) -> None:
        self.width, self.height = meta.input_width, meta.input_height
        self.letterbox = meta.resize == "letterbox"
        self.to_rgb = meta.color == "rgb"
        self.mean = np.asarray(meta.mean, np.float32)
        self.inv_std = (1.0 / np.asarray(meta.std, np.float32)).astype(np.float32)
        params = cv2.dnn.Image2BlobParams()
        params.scalefactor = (*(float(v) for v in self.inv_std), 0.0)
        params.mean = (*(float(v) for v in self.mean), 0.0)
        params.size = (self.width, self.height)
        params.swapRB = self.to_rgb
        params.ddepth = cv2.CV_32F
        self._blob_params = params

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, InputTransform]:
        """One HxWx3 uint8 BGR frame -> (3xHxW float32 input, transform)."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 BGR image, got shape {frame.shape}")
        h, w = frame.shape[:2]
        if self.letterbox:
            scale = min(self.width / w, self.height / h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
            canvas = np.empty((self.height, self.width, 3), np.uint8)
            canvas[...] = np.clip(np.round(self.mean), 0, 255).astype(np.uint8)  # pads become ~0
            px, py = (self.width - nw) // 2, (self.height - nh) // 2
            canvas[py : py + nh, px : px + nw] = resized
            image, tf = canvas, InputTransform(nw / w, nh / h, px, py, w, h)
        else:  # the blob call resizes with INTER_LINEAR itself
            image, tf = frame, InputTransform(self.width / w, self.height / h, 0.0, 0.0, w, h)
        return cv2.dnn.blobFromImageWithParams(image, self._blob_params)[0], tf
