"""Camera-motion compensation for tracking, with and without, on the same detections; and its cost.

    .venv/bin/python benchmarks/camera_motion.py [--out docs/measurements/cpu-camera-motion.json]

1. A moving camera with ground truth: PETS09-S2L1 (real video, real ground truth) seen through a virtual
   camera that pans and shakes over it (a 75 % crop window moving along two sines, up to ~25 px a frame at 7
   fps, resized back to full size); the ground truth goes through the same warp. Kestrel's detector runs once
   per frame; the tracker runs on those detections without and with compensation (``--cmc on``); both are
   scored with motmetrics and trackeval (ID switches, IDF1, MOTA, HOTA) in the reference environment of
   benchmarks/tracking.py.
2. The shared dashcam clips (no ground truth): confirmed tracks, their median length and identity breaks,
   without and with. An identity break is a track that starts where another one of the same class ended
   shortly before (its first box overlaps that track's last box, IoU >= 0.2, within 1 s): one object that
   lost its id. With the same detections, fewer breaks and fewer, longer tracks mean fewer identity switches.
   Tracked on every frame, and on every 2nd and 3rd (the camera moves further between steps).
3. Cost: ``CameraMotion.update`` per frame at 640x360 (the dashcam clip), median.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.tracking import MOT, reference_python, score  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
CLIPS = ["dashcam-640x360.mp4", "dashcam-crash-320x180.mp4"]
CROP = 0.75
DETECT_EVERY = (1, 2, 3)  # the dashcams are also tracked on every 2nd and 3rd frame: more motion between steps


def camera_path(i: int, w: int, h: int) -> np.ndarray:
    """The virtual camera at frame i: the 2x3 affine from the original frame to the camera's view."""
    cx = w * (0.5 + 0.10 * math.sin(2 * math.pi * i / 60) + 0.03 * math.sin(2 * math.pi * i / 11))
    cy = h * (0.5 + 0.07 * math.sin(2 * math.pi * i / 45 + 1.0) + 0.02 * math.sin(2 * math.pi * i / 7))
    x0, y0 = cx - w * CROP / 2, cy - h * CROP / 2
    return np.array([[1 / CROP, 0, -x0 / CROP], [0, 1 / CROP, -y0 / CROP]])


def frames(path: Path):
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec

    yield from GstCapture(SourceSpec.parse(str(path))).open()


def detector():
    from app.commands.run_cmd import LABEL_IOU
    from app.models import DEFAULT
    from detector.detector import Detector

    return Detector.load(DEFAULT, conf=0.1, label_iou=LABEL_IOU)


def track(dets: list, times: list, images: list | None, cmc: str, class_names, mot: Path | None = None) -> dict:
    """Kestrel's tracker over cached detections, as the app runs it; ``images`` feed the camera-motion estimate
    and the appearance descriptors."""
    from app.analytics.appearance import describe
    from app.analytics.camera_motion import CameraMotion
    from app.analytics.mot import MotWriter
    from app.analytics.tracker import Tracker, TrackerConfig

    tracker = Tracker(class_names, TrackerConfig(high_score=0.35, new_track_score=0.35, min_track_score=0.35))
    motion, writer, lengths = CameraMotion(cmc), MotWriter(mot) if mot else None, []
    first: dict[int, tuple[float, np.ndarray, int]] = {}
    last: dict[int, tuple[float, np.ndarray, int]] = {}
    for k, (d, t) in enumerate(zip(dets, times, strict=True)):
        affine = motion.update(images[k], t, d.boxes) if images is not None and cmc != "off" else None
        shown = tracker.update(d, t, affine, describe(images[k], d.boxes) if images is not None else None)
        if writer:
            writer.add(tracker, shown)
        for x in shown:
            first.setdefault(x.id, (t, x.box.copy(), x.class_id))
            last[x.id] = (t, x.box.copy(), x.class_id)
        lengths += [x.last_pts - x.first_pts for x in tracker.ended if x.hits >= 3]
    lengths += [x.last_pts - x.first_pts for x in tracker.finish()]
    if writer:
        writer.close()
    return {"tracks": len(lengths), "median_track_s": round(float(np.median(lengths)), 2) if lengths else 0.0,
            "identity_breaks": identity_breaks(first, last)}


def identity_breaks(first: dict, last: dict, gap_s: float = 1.0, min_iou: float = 0.2) -> int:
    """Tracks that begin where another track of the same class ended within ``gap_s`` (see the docstring)."""
    from app.analytics.geometry import iou_matrix

    breaks = 0
    for b, (tb, box_b, cb) in first.items():
        for a, (ta, box_a, ca) in last.items():
            if a != b and ca == cb and tb - gap_s <= ta < tb and iou_matrix(box_a[None], box_b[None])[0, 0] >= min_iou:
                breaks += 1
                break
    return breaks


def moving_pets(python: Path, work: Path) -> list[dict]:
    import cv2

    seq = MOT / "PETS09-S2L1"
    det, images, times = detector(), [], []
    gt_rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",")
    out_gt, dets = [], []
    for i, frame in enumerate(frames(seq / "vtest.avi")):
        h, w = frame.image.shape[:2]
        m = camera_path(i, w, h)
        view = cv2.warpAffine(frame.image, m, (w, h), flags=cv2.INTER_LINEAR)
        images.append(view)
        times.append(i / 7.0)
        dets.append(det(view))
        for row in gt_rows[gt_rows[:, 0] == i + 1]:
            x, y, bw, bh = row[2:6]
            corners = np.array([[x, y], [x + bw, y + bh]]) @ m[:, :2].T + m[:, 2]
            (x1, y1), (x2, y2) = corners.min(0), corners.max(0)
            cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if (cx2 - cx1) * (cy2 - cy1) >= 0.5 * (x2 - x1) * (y2 - y1):
                out_gt.append([i + 1, row[1], cx1, cy1, cx2 - cx1, cy2 - cy1, *row[6:]])
    gt = work / "moving-PETS09" / "gt" / "gt.txt"
    gt.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(gt, np.array(out_gt), delimiter=",", fmt="%g")
    person = [d[d.class_ids == 0] for d in dets]
    runs, tracks = {}, {}
    for cmc in ("off", "on"):
        tracks[cmc] = work / f"cmc-{cmc}" / "moving-PETS09.txt"
        tracks[cmc].parent.mkdir(parents=True, exist_ok=True)
        runs[cmc] = track(person, times, images, cmc, det.class_names, tracks[cmc])
    scored = score(python, gt, tracks)
    return [{"sequence": "PETS09-S2L1 through a panning, shaking camera", "cmc": cmc, **runs[cmc], **scored[cmc]}
            for cmc in ("off", "on")]  # fmt: skip


def dashcams() -> list[dict]:
    det, rows = detector(), []
    for name in CLIPS:
        path = VIDEOS / name
        if not path.exists():
            continue
        images, times, dets = [], [], []
        for f in frames(path):
            images.append(f.image)
            times.append(f.pts_ns / 1e9)
            dets.append(det(f.image))
        for every in DETECT_EVERY:
            for cmc in ("off", "on"):
                rows.append({"clip": name, "detect_every": every, "cmc": cmc,
                             **track(dets[::every], times[::every], images[::every], cmc, det.class_names)})
    return rows


def cost_ms(clip: Path, n: int = 200) -> float:
    from app.analytics.camera_motion import CameraMotion

    motion, costs = CameraMotion("on"), []
    for i, f in enumerate(frames(clip)):
        if i >= n:
            break
        t0 = time.perf_counter()
        motion.update(f.image, f.pts_ns / 1e9)
        costs.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(costs[5:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-camera-motion.json")
    args = parser.parse_args()
    if not (MOT / "PETS09-S2L1" / "vtest.avi").exists():
        raise SystemExit("needs ../shared/data (PETS09-S2L1 and the shared videos)")
    python = reference_python()
    with tempfile.TemporaryDirectory(prefix="kestrel-cmc-") as work:
        pets = moving_pets(python, Path(work))
    clips = dashcams()
    cost = cost_ms(VIDEOS / "dashcam-640x360.mp4")
    print(f"{'sequence':48} {'cmc':4} {'IDsw':>5} {'IDF1':>6} {'MOTA':>6} {'HOTA':>6} {'tracks':>6}")
    for r in pets:
        print(f"{r['sequence']:48} {r['cmc']:4} {r['IDSW']:5d} {r['IDF1']:6.3f} {r['MOTA']:6.3f} {r['HOTA']:6.3f} "
              f"{r['tracks']:6d}")  # fmt: skip
    print(f"\n{'clip':32} {'every':>5} {'cmc':4} {'tracks':>6} {'median track s':>15} {'identity breaks':>16}")
    for r in clips:
        print(f"{r['clip']:32} {r['detect_every']:5d} {r['cmc']:4} {r['tracks']:6d} {r['median_track_s']:15.2f} "
              f"{r['identity_breaks']:16d}")  # fmt: skip
    print(f"\ncamera-motion estimate at 640x360: {cost:.2f} ms per frame (median)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "benchmarks/camera_motion.py", "moving_pets": pets,
                                    "dashcams": clips, "cost_ms_640x360": round(cost, 3)}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
