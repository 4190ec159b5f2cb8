"""`make run`: the headless demo — the default model over the bundled sample clip. Runtime only, no torch.

Until the bundled default model exists (issue 5/6), the default model is NanoDet-Plus-m-416 imported
from ../shared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.errors import KestrelError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_PARAM = SHARED / "weights" / "nanodet" / "nanodet-plus-m_416.param"
SAMPLE = ROOT / "assets" / "sample.mp4"


def default_model(cache: Path) -> Path:
    package = cache / "nanodet-plus-m_416.onnx"
    if package.exists():
        return package
    if not DEFAULT_PARAM.exists():
        raise KestrelError(
            f"no default model yet: the bundled model arrives with issue 5/6, and {DEFAULT_PARAM} is absent"
        )
    from detector.ncnn.importer import import_ncnn

    print(f"importing {DEFAULT_PARAM.name} -> {package}", file=sys.stderr)
    import_ncnn(DEFAULT_PARAM, package)
    return package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kestrel headless demo on the sample clip")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "demo")
    args = parser.parse_args(argv)
    from .cli import main as cli

    args.out.mkdir(parents=True, exist_ok=True)
    save, events = args.out / "sample-annotated.mkv", args.out / "events.jsonl"
    events.unlink(missing_ok=True)
    code = cli(["run", str(SAMPLE), "--save", str(save), "--events", str(events)])
    if code == 0:
        print(f"\nresults in {args.out}/: annotated video {save.name}, detections {events.name}")
    return code


if __name__ == "__main__":
    sys.exit(main())
