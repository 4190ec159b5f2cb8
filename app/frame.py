"""The one frame type flowing through the app."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 BGR
    pts_ns: int  # presentation timestamp from the source (ns)
    index: int  # 0-based, in arrival order
    source: str  # redacted source name (no credentials)
    wall_s: float = 0.0  # when it was captured (time.time() through the capture's StreamClock): pts → wall (clips)

    @property
    def width(self) -> int:
        return self.image.shape[1]

    @property
    def height(self) -> int:
        return self.image.shape[0]
