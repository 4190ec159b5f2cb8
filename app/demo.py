"""`make run`: the headless demo — the bundled default model over the bundled sample clip. Runtime only
(no torch), nothing from ../shared."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample.mp4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kestrel headless demo on the sample clip")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "demo")
    args = parser.parse_args(argv)
    from .cli import main as cli

    args.out.mkdir(parents=True, exist_ok=True)
    save, events = args.out / "sample-annotated.mkv", args.out / "events.jsonl"
    code = cli(["run", str(SAMPLE), "--save", str(save), "--events", str(events), "--overwrite"])
    if code == 0:
        print(f"\nresults in {args.out}/: annotated video {save.name}, object events {events.name}")
    return code


if __name__ == "__main__":
    sys.exit(main())
