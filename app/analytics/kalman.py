"""A constant-velocity Kalman filter for boxes, in continuous time and batched over tracks.

State per track: (cx, cy, w, h, vx, vy, vw, vh) in pixels and pixels per second. Every step takes the real
time since the last one (``dt`` in seconds, from the source's timestamps), so a 7 fps clip, a 30 fps camera
and a live stream that dropped frames all move the same way. Noise scales with the box height (a far, small
person moves fewer pixels than a near one), as in SORT/DeepSORT; the per-second constants below equal
half of DeepSORT's per-frame ones at 30 fps (measured on the public-detection sequences of
benchmarks/tracking.py: the looser filter let nearby people swap at 7 fps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H = np.hstack([np.eye(4), np.zeros((4, 4))])  # we observe the box, not its velocity


@dataclass(frozen=True)
class MotionNoise:
    position: float = 0.14  # random-walk std of cx, cy, w, h per sqrt(second), in box heights
    velocity: float = 0.5  # random-walk std of the velocities per sqrt(second), in box heights per second
    measurement: float = 0.05  # detector box std, in box heights
    initial_velocity: float = 1.9  # std of the unknown velocity of a new track, in box heights per second


def xyxy_to_state(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) cx, cy, w, h."""
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.hstack([boxes[:, :2] + wh / 2, wh])


def state_to_xyxy(z: np.ndarray) -> np.ndarray:
    """(N, >=4) cx, cy, w, h, ... -> (N, 4) xyxy."""
    half = np.maximum(z[:, 2:4], 1e-3) / 2
    return np.hstack([z[:, :2] - half, z[:, :2] + half])


def initiate(boxes: np.ndarray, noise: MotionNoise) -> tuple[np.ndarray, np.ndarray]:
    """Means (N, 8) and covariances (N, 8, 8) of new tracks at these boxes, velocity unknown."""
    z = xyxy_to_state(boxes)
    mean = np.hstack([z, np.zeros_like(z)])
    h = np.maximum(z[:, 3], 1.0)[:, None]
    std = np.hstack([2 * noise.measurement * h.repeat(4, 1), noise.initial_velocity * h.repeat(4, 1)])
    cov = np.zeros((len(boxes), 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = std**2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray, noise: MotionNoise):
    """Advance every track by ``dt`` seconds (a scalar or one per track)."""
    dt = np.broadcast_to(np.asarray(dt, np.float64), (len(mean),))
    new_mean = mean.copy()
    new_mean[:, :4] += mean[:, 4:] * dt[:, None]
    f = np.tile(np.eye(8), (len(mean), 1, 1))
    f[:, np.arange(4), np.arange(4) + 4] = dt[:, None]
    h = np.maximum(mean[:, 3], 1.0)
    q = np.zeros_like(cov)
    idx = np.arange(4)
    q[:, idx, idx] = ((noise.position * h) ** 2 * dt)[:, None]
    q[:, idx + 4, idx + 4] = ((noise.velocity * h) ** 2 * dt)[:, None]
    new_cov = f @ cov @ f.transpose(0, 2, 1) + q
    new_mean[:, 2:4] = np.maximum(new_mean[:, 2:4], 1.0)  # a shrinking box never turns inside out
    return new_mean, new_cov


def update(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray, noise: MotionNoise):
    """Correct each track (N) with its observed box (N, 4 xyxy)."""
    z = xyxy_to_state(boxes)
    h = np.maximum(z[:, 3], 1.0)
    r = np.zeros((len(mean), 4, 4))
    idx = np.arange(4)
    r[:, idx, idx] = ((noise.measurement * h) ** 2)[:, None]
    s = H @ cov @ H.T + r  # (N, 4, 4)
    pht = cov @ H.T  # (N, 8, 4)
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)  # K = P H^T S^-1
    innovation = z - mean[:, :4]
    new_mean = mean + (gain @ innovation[:, :, None])[:, :, 0]
    new_cov = cov - gain @ H @ cov
    return new_mean, new_cov


def warp(mean: np.ndarray, cov: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move tracks (N) by a camera motion: a 2x3 affine of rotation, uniform scale and translation taking the
    previous frame's pixels to this frame's. Centres go through the affine, velocities through its linear part,
    sizes and their rates scale (BoT-SORT's camera-motion compensation)."""
    linear, shift = affine[:, :2], affine[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    m = np.zeros((8, 8))
    m[0:2, 0:2] = linear
    m[4:6, 4:6] = linear
    m[[2, 3, 6, 7], [2, 3, 6, 7]] = scale
    new_mean = mean @ m.T
    new_mean[:, :2] += shift
    return new_mean, m @ cov @ m.T
