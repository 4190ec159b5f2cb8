"""Which tracker cues reduce identity switches and line-counting error: appearance descriptors in the first
association stage, and ignoring boxes that merge two tracked objects?

    .venv/bin/python experiments/tracker_cues.py

Two kinds of input, the same grid of settings (appearance weight; merge cover / growth, 0 = off):
- PETS09-S2L1 with the bundled default model's own detections (as `kestrel run vtest.avi --classes person`:
  conf 0.1 into the tracker, 0.35 for strong boxes; detections and descriptors cached in build/ after the first
  run): motmetrics/trackeval scores and the line counts of benchmarks/counting.py against its ground-truth
  reference;
- the published detections of the three sequences of ../shared/data/mot (no video, so no appearance there):
  the merge rule alone.
Writes docs/measurements/cpu-tracker-cues.json. The defaults in TrackerConfig came from this grid.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.counting import LINES, SEQ, reference_counts  # noqa: E402
from benchmarks.tracking import FPS, MOT, reference_python, score  # noqa: E402

CACHE = ROOT / "build" / "tracker-cues-cache.pkl"
GRID = [(0.0, 0.0, 1.0), (1.5, 0.0, 1.0), (0.0, 0.6, 1.2), (1.5, 0.6, 1.0), (1.5, 0.6, 1.2), (1.5, 0.6, 1.4),
        (1.5, 0.7, 1.2), (1.5, 0.7, 1.4), (1.5, 0.8, 1.3)]  # fmt: skip


def cached_detections() -> dict:
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    from app.analytics.appearance import describe
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec
    from app.commands.run_cmd import LABEL_IOU
    from app.models import DEFAULT
    from detector.detector import Detector

    detector = Detector.load(DEFAULT, conf=0.1, classes=("person",), label_iou=LABEL_IOU)
    frames = []
    for frame in GstCapture(SourceSpec.parse(str(SEQ / "vtest.avi"))).open():
        dets = detector(frame.image)
        frames.append((frame.pts_ns / 1e9, dets, describe(frame.image, dets.boxes), frame.width, frame.height))
    data = {"class_names": detector.class_names, "frames": frames}
    CACHE.parent.mkdir(exist_ok=True)
    CACHE.write_bytes(pickle.dumps(data))
    return data


def config(weight: float, cover: float, growth: float, **app_settings: float):
    from app.analytics.tracker import TrackerConfig

    return TrackerConfig(appearance_weight=weight, merge_cover=cover, merge_growth=growth, **app_settings)


def own_run(data: dict, cfg, mot: Path) -> dict[str, dict[str, int]]:
    """Track the cached detections and apply the counting lines, as the app's object stage does."""
    from app.analytics.mot import MotWriter
    from app.analytics.rules import RuleEngine
    from app.analytics.rules_file import parse_rules
    from app.analytics.tracker import Tracker

    names = data["class_names"]
    tracker, engine, writer = Tracker(names, cfg), RuleEngine(parse_rules(LINES, names), names), MotWriter(mot)
    for pts, dets, features, w, h in data["frames"]:
        engine.bind(w, h)
        shown = tracker.update(dets, pts, None, features)
        writer.add(tracker, shown)
        engine.step(pts, shown, [names[t.class_id] for t in shown])
        for t in tracker.ended:
            engine.end(t.id, names[t.class_id], pts)
    for t in [t for t in tracker.tracks if t.state in ("confirmed", "lost")]:
        engine.end(t.id, names[t.class_id], data["frames"][-1][0])
    writer.close()
    return {n: {d: sum(c.values()) for d, c in v.items()} for n, v in engine.line_counts.items()}


def main() -> int:
    from app.analytics.mot import track_file
    from app.analytics.tracker import Tracker

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-tracker-cues.json")
    args = parser.parse_args()
    data, reference, python = cached_detections(), reference_counts(768, 576), reference_python()
    total = sum(sum(v.values()) for v in reference.values())
    app_settings = {"high_score": 0.35, "new_track_score": 0.35, "low_score": 0.1, "min_track_score": 0.35}
    rows, public_done = [], set()
    print("| appearance | merge cover / growth | input | count error | ID switches | IDF1 | HOTA | MOTA |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for weight, cover, growth in GRID:
            mot = Path(folder) / "own.txt"
            counts = own_run(data, config(weight, cover, growth, **app_settings), mot)
            error = sum(abs(counts.get(n, {}).get(d, 0) - r) for n, v in reference.items() for d, r in v.items())
            found = {"PETS09-S2L1 (own detections)": (score(python, SEQ / "gt" / "gt.txt", {"k": mot})["k"], error)}
            if (cover, growth) not in public_done:  # public detections come without images: no appearance
                public_done.add((cover, growth))
                for seq in ("PETS09-S2L1", "TUD-Campus", "TUD-Stadtmitte"):
                    out = Path(folder) / f"{seq}.txt"
                    track_file(MOT / seq / "det" / "det.txt", out, FPS[seq], Tracker(("person",),
                               config(0.0, cover, growth)))  # fmt: skip
                    found[f"{seq} (public)"] = (score(python, MOT / seq / "gt" / "gt.txt", {"k": out})["k"], None)
            for name, (m, err) in found.items():
                rows.append({"appearance_weight": weight, "merge_cover": cover, "merge_growth": growth,
                             "input": name, "count_error": err, **m})  # fmt: skip
                shown = f"{err} of {total}" if err is not None else ""
                print(f"| {weight} | {cover} / {growth} | {name} | {shown} | {m['IDSW']} | {m['IDF1']:.3f} | "
                      f"{m['HOTA']:.3f} | {m['MOTA']:.3f} |", flush=True)  # fmt: skip
    found = {"how": "experiments/tracker_cues.py", "reference_crossings": total, "rows": rows}
    args.out.write_text(json.dumps(found, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
