"""Reading images with clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError


def read_image(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 BGR image from ``path``; ImageError if missing or not a decodable image."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image not found: {path}")
    data = np.fromfile(path, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageError(f"{path} is not an image OpenCV can decode")
    return image
