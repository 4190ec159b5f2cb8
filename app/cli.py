"""`kestrel MODE ...` — one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys

from detector.errors import KestrelError

from .commands import (
    augment_cmd,
    detect_cmd,
    devices_cmd,
    doctor_cmd,
    eval_cmd,
    export_cmd,
    gui_cmd,
    import_cmd,
    info_cmd,
    replay_cmd,
    run_cmd,
    sparsity_cmd,
    train_cmd,
)

COMMANDS = (
    run_cmd, replay_cmd, gui_cmd, import_cmd, eval_cmd, detect_cmd, info_cmd, train_cmd, sparsity_cmd, augment_cmd,
    export_cmd, doctor_cmd, devices_cmd,
)  # fmt: skip

EPILOG = """examples:
  kestrel import ../shared/weights/nanodet/nanodet-plus-m_416.param -o models/plus416.onnx
  kestrel eval models/plus416.onnx --data ../shared/data/coco/tiny
  kestrel detect models/plus416.onnx photo.jpg --conf 0.4
  kestrel info models/plus416.onnx
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kestrel",
        description="Kestrel: real-time object detection on video. Every model is one ONNX 'model "
        "package'; import foreign weights with `kestrel import`, then detect, evaluate or run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="MODE", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KestrelError as exc:
        print(f"kestrel: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kestrel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
