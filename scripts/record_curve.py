"""Record a training run's evaluation curve (from its resumable state) as a measurement JSON, while it runs or
after it ends — the figures come from the run itself, never typed in.

    .venv/bin/python scripts/record_curve.py runs/NAME --what "..." --how "..." --json docs/measurements/X.json

Reads ``runs/NAME/last/trainer.json``: the epoch reached and every evaluation so far (COCO-style mAP and AP50 of
each validation set). Prints the curve as a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def curve(history: list[dict], first: str) -> list[dict]:
    """One row per evaluation: mAP and AP50 of each validation set (the trainer logs the first set, ``first``,
    without its name)."""
    rows = []
    for entry in history:
        row: dict = {"epoch": entry["epoch"]}
        for key, value in entry.items():
            name, _, metric = key.rpartition("/")
            if metric in ("mAP", "AP50"):
                prefix = (name or first).replace("-", "_")
                row[f"{prefix}_{metric}"] = round(float(value), 4)
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run's folder (OUTPUT/NAME of its recipe)")
    parser.add_argument("--what", required=True, help="what the run is, for the reader of the JSON")
    parser.add_argument("--how", required=True, help="the command that trains it")
    parser.add_argument("--json", type=Path, required=True, help="where to write the record")
    args = parser.parse_args()
    state = args.run / "last" / "trainer.json"
    if not state.is_file():
        raise SystemExit(f"no training state at {state}: is {args.run} a run's folder?")
    data = json.loads(state.read_text())
    epochs = data["config"]["optim"]["epochs"]
    first = data["config"]["data"]["val"][0].get("name") or "val"
    rows = curve(data.get("history", []), first)
    status = "finished" if data["epoch"] >= epochs else "paused (resumable)"
    record = {"what": args.what, "how": args.how, "status": f"{status}: {data['epoch']} of {epochs} epochs",
              "curve": rows}
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    keys = sorted({k for r in rows for k in r} - {"epoch"})
    print("epoch " + " ".join(f"{k:>20}" for k in keys))
    for row in rows:
        print(f"{row['epoch']:>5} " + " ".join(f"{row.get(k, float('nan')):>20.4f}" for k in keys))
    print(f"{record['status']}; wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
