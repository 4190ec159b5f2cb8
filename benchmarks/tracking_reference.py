"""Runs inside the reference environment benchmarks/tracking.py builds (never in Kestrel's: Roboflow's
``trackers`` needs opencv-python, which breaks PyQt6). Two jobs:

    python tracking_reference.py track DET.txt FPS OUT_DIR      SORT, ByteTrack, OC-SORT at their defaults
    python tracking_reference.py score GT.txt TRACKS.txt ...    HOTA (trackeval), MOTA / IDF1 / IDSW (motmetrics)

Scoring follows MOTChallenge: ground-truth rows with conf 0 are ignore regions; a tracked box matched
(IoU >= 0.5) to one is dropped before scoring, for every tracker alike. Prints JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def read_rows(path: Path) -> np.ndarray:
    rows = [line.split(",")[:7] for line in path.read_text().splitlines() if line.strip()]
    return np.array(rows, np.float64).reshape(-1, 7)


def track(det_path: str, fps: str, out_dir: str) -> None:
    import supervision as sv
    from trackers import ByteTrackTracker, OCSORTTracker, SORTTracker

    rows = read_rows(Path(det_path))
    last = int(rows[:, 0].max()) if len(rows) else 0
    for name, cls in (("sort", SORTTracker), ("bytetrack", ByteTrackTracker), ("ocsort", OCSORTTracker)):
        tracker = cls(frame_rate=float(fps))
        lines = []
        for frame in range(1, last + 1):
            r = rows[rows[:, 0] == frame]
            xyxy = np.hstack([r[:, 2:4], r[:, 2:4] + r[:, 4:6]]) if len(r) else np.zeros((0, 4))
            dets = sv.Detections(xyxy=xyxy.astype(np.float32), confidence=r[:, 6].astype(np.float32),
                                 class_id=np.zeros(len(r), int))  # fmt: skip
            out = tracker.update(dets)
            for box, tid in zip(out.xyxy, out.tracker_id, strict=True):
                if tid >= 0:
                    x1, y1, x2, y2 = box
                    lines.append(f"{frame},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1\n")
        target = Path(out_dir) / name / Path(det_path).parent.parent.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_suffix(".txt").write_text("".join(lines))


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """xywh (N, 4) x (M, 4) -> IoU."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    a2, b2 = a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:]
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a2[:, None], b2[None])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = np.prod(a[:, 2:], 1)[:, None] + np.prod(b[:, 2:], 1)[None] - inter
    return inter / np.maximum(union, 1e-9)


def prepared(gt_path: Path, ts_path: Path):
    """Per frame: scored gt (ids, boxes) and tracker (ids, boxes), tracker boxes on ignore regions removed."""
    from scipy.optimize import linear_sum_assignment

    gt, ts = read_rows(gt_path), read_rows(ts_path)
    frames = range(1, int(max(gt[:, 0].max(), ts[:, 0].max() if len(ts) else 0)) + 1)
    out = []
    for f in frames:
        g, t = gt[gt[:, 0] == f], ts[ts[:, 0] == f]
        ignore = g[g[:, 6] == 0]
        g = g[g[:, 6] != 0]
        if len(ignore) and len(t):
            m = iou(t[:, 2:6], ignore[:, 2:6])
            r, c = linear_sum_assignment(-m)
            drop = set(r[m[r, c] >= 0.5].tolist())
            t = t[[i for i in range(len(t)) if i not in drop]]
        out.append((g[:, 1].astype(int), g[:, 2:6], t[:, 1].astype(int), t[:, 2:6]))
    return out


def hota(frames) -> float:
    from trackeval.metrics import HOTA

    gt_ids = sorted({int(i) for g, _, _, _ in frames for i in g})
    tr_ids = sorted({int(i) for _, _, t, _ in frames for i in t})
    gmap, tmap = {v: k for k, v in enumerate(gt_ids)}, {v: k for k, v in enumerate(tr_ids)}
    data = {"num_timesteps": len(frames), "num_gt_ids": len(gt_ids), "num_tracker_ids": len(tr_ids),
            "num_gt_dets": sum(len(g) for g, _, _, _ in frames),
            "num_tracker_dets": sum(len(t) for _, _, t, _ in frames),
            "gt_ids": [np.array([gmap[int(i)] for i in g], int) for g, _, _, _ in frames],
            "tracker_ids": [np.array([tmap[int(i)] for i in t], int) for _, _, t, _ in frames],
            "similarity_scores": [iou(gb, tb) for _, gb, _, tb in frames]}  # fmt: skip
    return float(np.mean(HOTA().eval_sequence(data)["HOTA"]))


def clear_and_identity(frames) -> dict[str, float]:
    if not hasattr(np, "asfarray"):  # motmetrics 1.4.0 predates NumPy 2, which trackers requires
        np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for g, gb, t, tb in frames:
        acc.update(g.tolist(), t.tolist(), mm.distances.iou_matrix(gb, tb, max_iou=0.5))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="x")
    return {"MOTA": float(summary["mota"].iloc[0]), "IDF1": float(summary["idf1"].iloc[0]),
            "IDSW": int(summary["num_switches"].iloc[0])}  # fmt: skip


def score(gt_path: str, *tracks: str) -> None:
    results = {}
    for path in tracks:
        frames = prepared(Path(gt_path), Path(path))
        results[path] = {"HOTA": hota(frames), **clear_and_identity(frames)}
    print(json.dumps(results))


if __name__ == "__main__":
    job, *rest = sys.argv[1:]
    {"track": track, "score": score}[job](*rest)
