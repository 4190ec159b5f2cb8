"""MOTChallenge text files: detections in (``frame,-1,x,y,w,h,score,...``), tracks out
(``frame,id,x,y,w,h,score,-1,-1,-1``; frames 1-based)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from detector.detections import Detections
from detector.errors import KestrelError

from .tracker import Track, Tracker


def read_detections(path: Path, class_names: tuple[str, ...] = ("person",)) -> dict[int, Detections]:
    """Frame number (1-based) -> that frame's detections, all of class 0."""
    if not path.is_file():
        raise KestrelError(f"detections not found: {path}")
    rows: dict[int, list[list[float]]] = defaultdict(list)
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.replace(" ", "").split(",")[:7]]
            frame, _, x, y, w, h, score = values
        except ValueError:
            raise KestrelError(f"{path}:{lineno}: expected 'frame,id,x,y,w,h,score,...'") from None
        if w > 0 and h > 0:
            rows[int(frame)].append([x, y, x + w, y + h, score])
    out = {}
    for frame, values in rows.items():
        arr = np.array(values, np.float32)
        out[frame] = Detections(arr[:, :4], arr[:, 4], np.zeros(len(arr), np.int32), class_names)
    return out


class MotWriter:
    """Collects confirmed tracks per frame (with the frames a track spent tentative, written once it is
    confirmed) and writes them sorted by frame and id when closed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: list[tuple[int, int, np.ndarray, float]] = []

    def add(self, tracker: Tracker, shown: list[Track]) -> None:
        frame = tracker.frame + 1
        for t in tracker.activated:
            self.rows += [(f + 1, t.id, box, score) for f, box, score in t.observed[:-1]]
            t.observed = []
        for t in shown:
            self.rows.append((frame, t.id, t.box.copy(), float(t.scores[-1])))

    def close(self) -> None:
        from ..outputs import atomic_output

        lines = []
        for frame, tid, box, score in sorted(self.rows, key=lambda r: (r[0], r[1])):
            x1, y1, x2, y2 = (float(v) for v in box)
            lines.append(f"{frame},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f},-1,-1,-1\n")
        with atomic_output(self.path) as tmp:
            tmp.write_text("".join(lines))


def track_file(detections: Path, out: Path, fps: float, tracker: Tracker) -> int:
    """Run ``tracker`` over a MOTChallenge detection file; returns the number of track rows written."""
    per_frame = read_detections(detections, tracker.class_names or ("person",))
    writer = MotWriter(out)
    last = max(per_frame, default=0)
    empty = Detections.empty(tracker.class_names or ("person",))
    for frame in range(1, last + 1):
        shown = tracker.update(per_frame.get(frame, empty), (frame - 1) / fps)
        writer.add(tracker, shown)
    writer.close()
    return len(writer.rows)
