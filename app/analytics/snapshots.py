"""Each object's best snapshot: the frame where score x box area was highest, kept as two JPEGs in memory (the
crop, and the whole frame with that object's box drawn) and written to disk when an event names it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.errors import KestrelError

from .tracker import Track

IMPROVE = 1.2  # re-encode only when the quality (score x area) beats the kept one by this factor


@dataclass
class _Best:
    quality: float
    crop: bytes
    frame: bytes
    written: bool = False


class SnapshotStore:
    def __init__(self, folder: Path, max_side: int = 960) -> None:
        self.folder, self.max_side = Path(folder), max_side
        self.best: dict[int, _Best] = {}

    def offer(self, t: Track, image: np.ndarray, label: str, pts_s: float) -> None:
        x1, y1, x2, y2 = (int(round(float(v))) for v in t.box)
        h, w = image.shape[:2]
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            return
        quality = float(t.scores[-1]) * (x2 - x1) * (y2 - y1)
        kept = self.best.get(t.id)
        if kept is not None and quality < kept.quality * IMPROVE:
            return
        scale = min(self.max_side / max(h, w), 1.0)
        if scale < 1:  # shrink first, then draw: a 720p frame is never copied or filtered at full size
            framed = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        else:
            framed = image.copy()
        bx1, by1, bx2, by2 = (round(v * scale) for v in (x1, y1, x2, y2))
        cv2.rectangle(framed, (bx1, by1), (bx2, by2), (0, 200, 255), 2)
        cv2.putText(framed, f"#{t.id} {label} {pts_s:.1f}s", (bx1, max(by1 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 200, 255), 1, cv2.LINE_AA)  # fmt: skip
        crop = cv2.imencode(".jpg", image[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        frame = cv2.imencode(".jpg", framed, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        self.best[t.id] = _Best(quality, crop, frame)

    def write(self, track_id: int) -> dict | None:
        """Write the object's best snapshot (if it changed since last written); the paths, or None."""
        best = self.best.get(track_id)
        if best is None:
            return None
        paths = {"crop": self.folder / f"{track_id}-crop.jpg", "frame": self.folder / f"{track_id}-frame.jpg"}
        if not best.written:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                for key, data in (("crop", best.crop), ("frame", best.frame)):
                    tmp = paths[key].with_name(paths[key].name + ".partial")
                    tmp.write_bytes(data)
                    os.replace(tmp, paths[key])
            except OSError as exc:
                from ..sinks.write_errors import describe_os_error

                raise KestrelError(describe_os_error(paths["crop"], exc)) from None
            best.written = True
        return {k: str(v) for k, v in paths.items()}

    def forget(self, track_id: int) -> None:
        self.best.pop(track_id, None)
