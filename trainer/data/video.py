"""Frames sampled evenly from a video clip, as unlabeled samples (a teacher labels them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detector.errors import KestrelError

from .sample import Sample


def sample_frame_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames (all of them if count >= total)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    step = total / count
    return [int(step * i + step / 2) for i in range(count)]


class VideoFramesSource:
    """``frames`` frames of ``path``, decoded once (sequentially, so no seek can miss a frame) and kept in
    memory, each scaled so its longer side is at most ``max_side`` (the network input is far smaller)."""

    def __init__(self, path: str | Path, frames: int, class_names: tuple[str, ...], max_side: int = 640) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise KestrelError(f"video not found: {self.path}")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise KestrelError(f"{self.path} is not a video OpenCV can open")
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(sample_frame_indices(total, frames))
        self.frames: list[np.ndarray] = []
        index = 0
        while len(self.frames) < len(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                self.frames.append(_shrink(frame, max_side))
            index += 1
        capture.release()
        if not self.frames:
            raise KestrelError(f"no frames could be decoded from {self.path}")
        self.class_names = tuple(class_names)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        return Sample(self.frames[index].copy(), image_id=index, labeled=False)


def _shrink(frame: np.ndarray, max_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return frame
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
