"""Global camera motion between consecutive frames, for tracking on moving cameras (BoT-SORT's GMC, with
OpenCV's own functions): corners on a small grey frame, pyramidal Lucas-Kanade flow to the next frame, a
RANSAC fit of a partial affine (rotation, uniform scale, translation). The tracker warps its predictions by
it, so a dashcam's own motion is not mistaken for the objects'.

``auto`` mode applies the motion only while the camera is seen to move: the median background displacement
over the last second of estimates is above ``moving_px`` (in pixels of the full frame per 1/30 s). A fixed
camera watching a crowd is thereby never "compensated" by the crowd's own flow.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class CameraMotion:
    def __init__(self, mode: str = "auto", width: int = 320, moving_px: float = 1.0) -> None:
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"camera motion compensation: expected auto, on or off, got {mode!r}")
        self.mode, self.width, self.moving_px = mode, width, moving_px
        self.prev: np.ndarray | None = None
        self.prev_pts: np.ndarray | None = None
        self.prev_t: float | None = None
        self.recent: deque = deque(maxlen=30)  # background displacement per 1/30 s, full-frame pixels
        self.scale = 1.0

    @property
    def moving(self) -> bool:
        return self.mode == "on" or (self.mode == "auto" and len(self.recent) >= 5
                                     and float(np.median(self.recent)) > self.moving_px)  # fmt: skip

    def reset(self) -> None:
        """A cut in the video (a seek, a reconnect): the next frame has no predecessor."""
        self.prev = self.prev_pts = self.prev_t = None

    def update(self, image: np.ndarray, pts_s: float, boxes: np.ndarray | None = None) -> np.ndarray | None:
        """The affine (2x3, full-frame pixels) taking the previous frame's coordinates to this one's, or None
        when it is not to be applied (mode off, a fixed camera in auto mode, the first frame, too few corners).
        ``boxes`` (xyxy) are the objects, masked out so their own motion is not taken for the camera's."""
        if self.mode == "off":
            return None
        h, w = image.shape[:2]
        self.scale = min(1.0, self.width / w)
        small = cv2.resize(image, (round(w * self.scale), round(h * self.scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        affine = None
        if self.prev is not None and self.prev_pts is not None and len(self.prev_pts) >= 8:
            affine = self._estimate(grey, pts_s)
        self.prev, self.prev_t = grey, pts_s
        self.prev_pts = self._corners(grey, boxes)
        return affine if affine is not None and self.moving else None

    def _corners(self, grey: np.ndarray, boxes: np.ndarray | None) -> np.ndarray | None:
        mask = np.full(grey.shape, 255, np.uint8)
        if boxes is not None and len(boxes):
            for x1, y1, x2, y2 in np.round(np.asarray(boxes) * self.scale).astype(int):
                mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = 0
        return cv2.goodFeaturesToTrack(grey, maxCorners=200, qualityLevel=0.01, minDistance=6, mask=mask,
                                       blockSize=3)  # fmt: skip

    def _estimate(self, grey: np.ndarray, pts_s: float) -> np.ndarray | None:
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(self.prev, grey, self.prev_pts, None, winSize=(15, 15),
                                                 maxLevel=3)  # fmt: skip
        good = status.ravel() == 1
        if good.sum() < 8:
            return None
        src, dst = self.prev_pts[good].reshape(-1, 2), nxt[good].reshape(-1, 2)
        m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5)
        if m is None or inliers is None or inliers.sum() < 6:
            return None
        m = m.astype(np.float64)
        m[:, 2] /= self.scale  # translation back to full-frame pixels (the linear part is scale-free)
        dt = pts_s - self.prev_t if self.prev_t is not None else 0.0
        shift = float(np.median(np.linalg.norm(dst[inliers.ravel() == 1] - src[inliers.ravel() == 1], axis=1)))
        per_30th = shift / self.scale * ((1 / 30) / dt if dt > 0 else 1.0)
        self.recent.append(per_30th)
        return m


def warp_points(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 2x3 affine."""
    return points @ affine[:, :2].T + affine[:, 2]
