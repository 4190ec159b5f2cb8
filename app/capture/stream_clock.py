"""One stream's mapping from presentation time to wall time, shared by its frames and its recording segments.

A frame read from the pipeline is stamped when the loop gets to it, which lags its capture by a varying
amount (a slow detector, a dropped buffer, scheduling). Stamping each frame, and each recording segment,
through its own read time makes two stamps of the same pts differ by that lag — enough to move an event
clip's cut by a whole segment. The least-delayed read over a recent window is the best estimate of the
stream's true offset (a read can be late, never early), so every pts maps through that one offset.
"""

from __future__ import annotations

from collections import deque


class StreamClock:
    """``wall = pts + offset``, the offset being the smallest ``read_wall - pts`` over the last ``window_s``
    of stream time (a sliding minimum, so drift between the source's clock and this host's is followed)."""

    def __init__(self, window_s: float = 30.0) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_ns = int(window_s * 1e9)
        self._candidates: deque[tuple[int, float]] = deque()  # (pts_ns, offset_s), offsets increasing
        self._last_pts: int | None = None

    def stamp(self, pts_ns: int, read_wall_s: float) -> float:
        """Record a frame read at ``read_wall_s`` and return the wall time its pts maps to."""
        if self._last_pts is not None and pts_ns < self._last_pts - 1_000_000_000:
            self._candidates.clear()  # the stream's timeline restarted (a seek, a new segment)
        self._last_pts = pts_ns
        offset = read_wall_s - pts_ns / 1e9
        while self._candidates and self._candidates[-1][1] >= offset:
            self._candidates.pop()
        self._candidates.append((pts_ns, offset))
        while self._candidates[0][0] < pts_ns - self.window_ns:
            self._candidates.popleft()
        return self.wall_of(pts_ns)

    def wall_of(self, pts_ns: int) -> float:
        """The wall time of a pts of this stream (needs at least one stamped frame)."""
        if not self._candidates:
            raise RuntimeError("no frame stamped yet")
        return pts_ns / 1e9 + self._candidates[0][1]

    @property
    def ready(self) -> bool:
        return bool(self._candidates)
