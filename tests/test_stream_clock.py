"""The pts→wall mapping a live capture shares between its frames and its recording segments."""

from __future__ import annotations

import random

import pytest

from app.capture.stream_clock import StreamClock


def test_late_reads_do_not_move_the_mapping():
    """Frames read with 0–300 ms of varying lag map through the least-delayed read, so two stamps of one pts
    agree to the millisecond however late each read was."""
    rng = random.Random(7)
    clock = StreamClock(window_s=30)
    base = 1_700_000_000.0
    for i in range(250):  # 10 s at 25 fps, read 0.2 s after capture plus up to 300 ms of jitter
        pts = i * 40_000_000
        lag = 0.2 + (0.0 if i % 50 == 0 else rng.uniform(0.0, 0.3))
        stamped = clock.stamp(pts, base + pts / 1e9 + lag)
        if i >= 50:
            assert stamped == pytest.approx(base + pts / 1e9 + 0.2, abs=1e-6)
    assert clock.wall_of(4_000_000_000) == pytest.approx(base + 4.2, abs=1e-6)


def test_the_offset_follows_drift_beyond_the_window():
    """A source clock that runs slow against this host: the mapping follows within one window."""
    clock = StreamClock(window_s=5)
    for i in range(1000):  # 40 s; the host gains 10 ms per stream second
        pts = i * 40_000_000
        stamped = clock.stamp(pts, 100.0 + pts / 1e9 * 1.01)
    assert stamped == pytest.approx(100.0 + 39.96 * 1.01, abs=0.06)


def test_a_restarted_timeline_starts_a_new_mapping():
    clock = StreamClock()
    clock.stamp(50_000_000_000, 1000.0)
    assert clock.stamp(0, 2000.0) == pytest.approx(2000.0)


def test_misuse_is_refused():
    with pytest.raises(ValueError):
        StreamClock(window_s=0)
    with pytest.raises(RuntimeError):
        StreamClock().wall_of(0)
