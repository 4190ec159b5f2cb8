"""Kestrel's tracker against Roboflow's trackers (SORT, ByteTrack, OC-SORT at their defaults) on the same
detections, scored with trackeval (HOTA) and motmetrics (MOTA, IDF1, ID switches); and its cost per frame.

    .venv/bin/python benchmarks/tracking.py [--out docs/measurements/cpu-tracking.json]

1. Public detections: every sequence of ../shared/data/mot with a det.txt, through `kestrel track`'s code.
2. The whole app on real video: `kestrel run PETS09-S2L1/vtest.avi --classes person --mot FILE` (Kestrel's
   detector and tracker), against the reference trackers fed Kestrel's own detections of the same frames.
3. Cost: the tracker's update at 10 / 50 / 200 moving objects, median over 200 frames.

The reference trackers and the scorers run in their own virtual environment, created on first use in
build/trackers-venv (``trackers`` needs opencv-python, which must never enter Kestrel's environment).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
MOT = SHARED / "data" / "mot"
VENV = ROOT / "build" / "trackers-venv"
REFERENCE = ["trackers==2.6.1", "trackeval==1.3.0", "motmetrics==1.4.0"]
FPS = {"PETS09-S2L1": 7.0, "TUD-Campus": 25.0, "TUD-Stadtmitte": 25.0}  # MOT15's frame rates (data/mot/README)
RUNNER = ROOT / "benchmarks" / "tracking_reference.py"


def reference_python() -> Path:
    """The reference environment's interpreter, created with the pinned packages on first use."""
    python, stamp = VENV / "bin" / "python", VENV / ".kestrel-reference"
    if not (stamp.exists() and stamp.read_text() == " ".join(REFERENCE)):
        print(f"creating {VENV} with {', '.join(REFERENCE)} (once)", file=sys.stderr)
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE], check=True)
        stamp.write_text(" ".join(REFERENCE))
    return python


def score(python: Path, gt: Path, tracks: dict[str, Path]) -> dict[str, dict]:
    out = subprocess.run([str(python), str(RUNNER), "score", str(gt), *map(str, tracks.values())], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    found = json.loads(out)
    return {name: found[str(path)] for name, path in tracks.items()}


def reference_tracks(python: Path, det: Path, fps: float, work: Path) -> dict[str, Path]:
    subprocess.run([str(python), str(RUNNER), "track", str(det), str(fps), str(work)], check=True)
    seq = det.parent.parent.name
    return {name: work / name / f"{seq}.txt" for name in ("sort", "bytetrack", "ocsort")}


def public_detections(python: Path, work: Path) -> list[dict]:
    from app.analytics.mot import track_file
    from app.analytics.tracker import Tracker

    rows = []
    for seq_dir in sorted(p for p in MOT.iterdir() if (p / "det" / "det.txt").exists()):
        seq, fps = seq_dir.name, FPS.get(seq_dir.name, 25.0)
        ours = work / "kestrel" / f"{seq}.txt"
        ours.parent.mkdir(parents=True, exist_ok=True)
        track_file(seq_dir / "det" / "det.txt", ours, fps, Tracker(("person",)))
        tracks = {"kestrel": ours, **reference_tracks(python, seq_dir / "det" / "det.txt", fps, work)}
        for name, metrics in score(python, seq_dir / "gt" / "gt.txt", tracks).items():
            rows.append({"sequence": seq, "detections": "public", "tracker": name, **metrics})
    return rows


def own_detections(python: Path, work: Path) -> list[dict]:
    """The app on vtest.avi, and the reference trackers on the same detector's boxes of the same frames."""
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec
    from app.cli import main as kestrel
    from app.commands.run_cmd import LABEL_IOU
    from app.models import DEFAULT
    from detector.detector import Detector

    seq = MOT / "PETS09-S2L1"
    video = seq / "vtest.avi"
    ours = work / "app" / "PETS09-S2L1.txt"
    ours.parent.mkdir(parents=True, exist_ok=True)
    if kestrel(["run", str(video), "--classes", "person", "--mot", str(ours), "--overwrite"]) != 0:
        raise SystemExit("kestrel run failed")
    det = work / "app-det" / "PETS09-S2L1" / "det" / "det.txt"
    det.parent.mkdir(parents=True, exist_ok=True)
    detector = Detector.load(DEFAULT, conf=0.1, classes=["person"], label_iou=LABEL_IOU)
    lines = []
    for index, frame in enumerate(GstCapture(SourceSpec.parse(str(video))).open(), 1):
        d = detector(frame.image)
        for (x1, y1, x2, y2), s in zip(d.boxes.tolist(), d.scores.tolist(), strict=True):
            lines.append(f"{index},-1,{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.4f},-1,-1,-1\n")
    det.write_text("".join(lines))
    tracks = {"kestrel (run)": ours, **reference_tracks(python, det, FPS["PETS09-S2L1"], work / "app-ref")}
    return [{"sequence": "PETS09-S2L1", "detections": "Kestrel's", "tracker": name, **m}
            for name, m in score(python, seq / "gt" / "gt.txt", tracks).items()]  # fmt: skip


def cost_per_frame(objects: int, frames: int = 200, looks: bool = True) -> tuple[float, float]:
    """Median ms per frame of the tracker's update and of the appearance descriptors (appearance.describe) for
    ``objects`` moving 30x70 boxes on a 1920x1080 frame of noise; ``looks`` False: the tracker without them."""
    from app.analytics.appearance import describe
    from app.analytics.tracker import Tracker
    from detector.detections import Detections

    rng = np.random.default_rng(objects)
    image = rng.integers(0, 255, (1080, 1920, 3), np.uint8)
    start, speed = rng.uniform(0, 1500, (objects, 2)), rng.uniform(-60, 60, (objects, 2))
    tracker, costs, looks_ms = Tracker(("person",)), [], []
    for i in range(frames):
        xy = start + speed * i / 30
        boxes = np.hstack([xy, xy + [30, 70]]).astype(np.float32)
        d = Detections(boxes, np.full(objects, 0.8, np.float32), np.zeros(objects, np.int32), ("person",))
        t0 = time.perf_counter()
        features = describe(image, boxes) if looks else None
        t1 = time.perf_counter()
        tracker.update(d, i / 30, None, features)
        costs.append((time.perf_counter() - t1) * 1e3)
        looks_ms.append((t1 - t0) * 1e3)
    return float(np.median(costs[20:])), float(np.median(looks_ms[20:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-tracking.json")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "tracking")
    args = parser.parse_args()
    if not MOT.exists():
        print(f"needs {MOT} (../shared is absent)", file=sys.stderr)
        return 2
    python = reference_python()
    rows = public_detections(python, args.work) + own_detections(python, args.work)
    print("| sequence | detections | tracker | HOTA | IDF1 | MOTA | ID switches |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['sequence']} | {r['detections']} | {r['tracker']} | {r['HOTA']:.3f} | {r['IDF1']:.3f} | "
              f"{r['MOTA']:.3f} | {r['IDSW']} |")  # fmt: skip
    measured = {n: cost_per_frame(n) for n in (10, 50, 200)}
    cost = {n: round(v[0], 3) for n, v in measured.items()}
    looks = {n: round(v[1], 3) for n, v in measured.items()}
    plain = {n: round(cost_per_frame(n, looks=False)[0], 3) for n in (10, 50, 200)}
    print("\nper frame, median ms: " + "; ".join(f"{n} objects: tracker {cost[n]} (without descriptors "
                                                f"{plain[n]}), descriptors {looks[n]}" for n in cost))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    found = {"how": "benchmarks/tracking.py", "reference": REFERENCE, "rows": rows, "cost_ms_per_frame": cost,
             "descriptors_ms_per_frame": looks,
             "cost_without_descriptors_ms_per_frame": plain}  # fmt: skip
    args.out.write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
