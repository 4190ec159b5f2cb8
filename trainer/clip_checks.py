"""Two failures a new user sees at once on a clip, counted per clip for a model report.

- **Two classes on one box**: a frame where the model (raw, NanoDet's multi-label output at the app's
  confidence) puts two boxes of different classes on one object (IoU >= ``same_box_iou``) — a road sign that
  is both truck and bus. The app keeps the better label (``label_iou``), so the user sees one label that flips.
- **Static phantom**: a frame holding a box that sits on the same spot in at least ``static_share`` of the
  clip's sampled frames and that the teacher does not confirm (no teacher box of any class at IoU >=
  ``confirm_iou`` in at least half of those frames; the report runs the teacher at score >= 0.1, since it
  scores a parked car or a monitor at the frame's edge 0.2-0.4) — a litter bin boxed as a car all clip long.

Both are counts of sampled frames (``frames`` evenly spaced over the clip).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.analytics.geometry import iou_matrix


@dataclass(frozen=True)
class ClipCheck:
    clip: str
    frames: int
    two_class_frames: int
    phantom_frames: int


def read_frames(path: Path, indices) -> list[np.ndarray]:
    """The clip's frames at ``indices`` (0-based, in order, BGR); fewer if the clip is shorter."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    wanted, frames, index = set(indices), [], 0
    while wanted:
        ok, frame = cap.read()
        if not ok:
            break
        if index in wanted:
            frames.append(frame)
            wanted.discard(index)
        index += 1
    cap.release()
    return frames


def frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return total


def sample_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames evenly spaced over the clip (BGR)."""
    total = frame_count(path)
    return read_frames(path, np.linspace(0, max(total - 1, 0), min(count, max(total, 1))).round().astype(int).tolist())


def two_class_frames(detections: list, same_box_iou: float = 0.8) -> int:
    """Frames where two boxes of different classes cover one object."""
    count = 0
    for det in detections:
        iou = iou_matrix(det.boxes, det.boxes)
        other = det.class_ids[:, None] != det.class_ids[None, :]
        count += bool(np.any(np.triu((iou >= same_box_iou) & other, 1)))
    return count


def phantom_frames(student: list, teacher: list, static_share: float = 0.9, same_spot_iou: float = 0.7,
                   confirm_iou: float = 0.5) -> int:  # fmt: skip
    """Frames holding a box that stays put for the whole clip and that the teacher does not confirm."""
    n = len(student)
    if n < 2:
        return 0
    flagged = np.zeros(n, bool)
    for i, det in enumerate(student):
        for box in det.boxes:
            here = [j for j in range(n) if len(student[j].boxes) and iou_matrix(box[None], student[j].boxes).max()
                    >= same_spot_iou]  # fmt: skip
            if len(here) < static_share * n:
                continue
            confirmed = sum(len(teacher[j].boxes) > 0 and iou_matrix(box[None], teacher[j].boxes).max() >= confirm_iou
                            for j in here)  # fmt: skip
            if confirmed < 0.5 * len(here):
                flagged[i] = True
                break
    return int(flagged.sum())


def check_clip(name: str, images: list[np.ndarray], student, teacher_dets: list) -> ClipCheck:
    """``student``: a Detector with ``label_iou=None`` at the app's confidence; ``teacher_dets``: the reference
    model's detections on the same ``images`` (computed once for every student)."""
    s = [student(f) for f in images]
    return ClipCheck(name, len(images), two_class_frames(s), phantom_frames(s, teacher_dets))
