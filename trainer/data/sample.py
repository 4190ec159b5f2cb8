"""One training sample: an image and its boxes, transformed together."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), np.float32)


@dataclass
class Sample:
    """HxWx3 uint8 BGR image; boxes xyxy float32 in its pixels; labels int64; crowd regions (ignored)."""

    image: np.ndarray
    boxes: np.ndarray = field(default_factory=_empty_boxes)
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    crowd: np.ndarray = field(default_factory=_empty_boxes)
    image_id: int = -1
    labeled: bool = True  # False: boxes come from a teacher's pseudo-labels
    # Partially labelled images: the class ids the labels cover (None: every class). Objects of the other
    # classes may be present without a box, so those classes learn from the teacher only.
    covered: frozenset[int] | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        self.crowd = np.asarray(self.crowd, np.float32).reshape(-1, 4)
        if len(self.boxes) != len(self.labels):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.labels)} labels")

    def with_parts(self, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, crowd: np.ndarray) -> Sample:
        """This sample's identity and label coverage around new pixels and boxes."""
        return Sample(image, boxes, labels, crowd, self.image_id, self.labeled, self.covered)

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]
