"""Line counting against ground truth: Kestrel's counts (its detector + tracker + rules on the video) beside the
counts the same lines give on the ground-truth tracks of PETS09-S2L1.

    .venv/bin/python benchmarks/counting.py [--out docs/measurements/cpu-counting.json]

The reference runs the ground-truth boxes (conf 0 rows are ignore regions, left out) through the same rule
engine, frame by frame at the sequence's 7 fps; Kestrel's counts are the line_cross events of
`kestrel run vtest.avi --classes person --rules LINES --events FILE`. Prints per line and direction:
reference, counted, error; and the total absolute error over the reference total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEQ = ROOT.parent / "shared" / "data" / "mot" / "PETS09-S2L1"
FPS = 7.0
LINES = {"lines": [
    {"name": "centre", "points": [[0.5, 0.25], [0.5, 0.98]], "classes": ["person"], "count": "every"},
    {"name": "left", "points": [[0.3, 0.3], [0.3, 0.98]], "classes": ["person"], "count": "every"},
    {"name": "lower", "points": [[0.02, 0.65], [0.98, 0.65]], "classes": ["person"], "count": "every"},
    {"name": "upper", "points": [[0.02, 0.45], [0.98, 0.45]], "classes": ["person"], "count": "every"},
]}  # fmt: skip


@dataclass
class _Track:
    id: int
    box: np.ndarray


def reference_counts(width: int, height: int) -> dict[str, dict[str, int]]:
    from app.analytics.rules import RuleEngine
    from app.analytics.rules_file import parse_rules

    engine = RuleEngine(parse_rules(LINES, ("person",)), ("person",))
    engine.bind(width, height)
    rows = np.loadtxt(SEQ / "gt" / "gt.txt", delimiter=",", usecols=range(7)).reshape(-1, 7)
    rows = rows[rows[:, 6] != 0]
    for frame in range(1, int(rows[:, 0].max()) + 1):
        here = rows[rows[:, 0] == frame]
        tracks = [_Track(int(r[1]), np.array([r[2], r[3], r[2] + r[4], r[3] + r[5]])) for r in here]
        engine.step((frame - 1) / FPS, tracks, ["person"] * len(tracks))
    return {n: {d: sum(c.values()) for d, c in v.items()} for n, v in engine.line_counts.items()}


def kestrel_counts(work: Path, model: Path | None = None) -> dict[str, dict[str, int]]:
    from app.cli import main as kestrel

    rules, events = work / "lines.yaml", work / "events.jsonl"
    rules.write_text(yaml.safe_dump(LINES))
    model = ["--model", str(model)] if model else []
    if kestrel(["run", str(SEQ / "vtest.avi"), "--classes", "person", "--rules", str(rules), "--events", str(events),
                "--overwrite", *model]) != 0:  # fmt: skip
        raise SystemExit("kestrel run failed")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    for record in map(json.loads, events.read_text().splitlines()):
        if record.get("type") == "line_cross":
            counts[record["line"]][record["direction"]] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-counting.json")
    parser.add_argument("--model", type=Path, help="model package (default: the bundled default model)")
    args = parser.parse_args()
    if not (SEQ / "vtest.avi").exists():
        print(f"needs {SEQ} (../shared is absent)", file=sys.stderr)
        return 2
    reference = reference_counts(768, 576)
    with tempfile.TemporaryDirectory() as folder:
        counted = kestrel_counts(Path(folder), args.model)
    rows, total_ref, total_err = [], 0, 0
    print("| line | direction | reference | Kestrel | error |\n| --- | --- | --- | --- | --- |")
    for line in LINES["lines"]:
        for direction in ("in", "out"):
            ref, got = reference[line["name"]][direction], counted[line["name"]][direction]
            rows.append({"line": line["name"], "direction": direction, "reference": ref, "counted": got})
            total_ref, total_err = total_ref + ref, total_err + abs(got - ref)
            print(f"| {line['name']} | {direction} | {ref} | {got} | {got - ref:+d} |")
    share = total_err / max(total_ref, 1)
    print(f"\ntotal absolute error {total_err} of {total_ref} reference crossings = {100 * share:.1f} %")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"how": "benchmarks/counting.py",
                                    "model": str(args.model or "bundled default"), "sequence": "PETS09-S2L1",
                                    "lines": LINES,
                                    "rows": rows, "total_abs_error": total_err, "reference_total": total_ref,
                                    "error_share": round(share, 4)}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
