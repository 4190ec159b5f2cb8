"""The one detections type every stage after the detector reads and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes in the frame's own pixels (xyxy float32), scores, class ids, optional track ids."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...] = field(default=(), repr=False)
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.boxes)
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,) or self.class_ids.shape != (n,):
            raise ValueError(
                f"inconsistent detections: boxes {self.boxes.shape}, scores {self.scores.shape}, "
                f"class_ids {self.class_ids.shape}"
            )
        if self.track_ids is not None and self.track_ids.shape != (n,):
            raise ValueError(f"track_ids shape {self.track_ids.shape} does not match {n} boxes")

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int32), class_names
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        """Select detections by boolean mask, index array or slice."""
        return Detections(
            self.boxes[index],
            self.scores[index],
            self.class_ids[index],
            self.class_names,
            None if self.track_ids is None else self.track_ids[index],
        )

    @property
    def labels(self) -> list[str]:
        names = self.class_names
        return [names[c] if 0 <= c < len(names) else str(c) for c in self.class_ids.tolist()]

    def to_records(self) -> list[dict]:
        """JSON-ready list of dicts (box as [x1, y1, x2, y2] in pixels)."""
        labels = self.labels
        out = []
        for i in range(len(self)):
            rec = {
                "box": [round(float(v), 2) for v in self.boxes[i]],
                "score": round(float(self.scores[i]), 4),
                "class_id": int(self.class_ids[i]),
                "label": labels[i],
            }
            if self.track_ids is not None:
                rec["track_id"] = int(self.track_ids[i])
            out.append(rec)
        return out
