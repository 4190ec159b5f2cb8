"""`kestrel MODE ...` — one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

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
    serve_cmd,
    sparsity_cmd,
    track_cmd,
    train_cmd,
)

COMMANDS = (
    run_cmd, serve_cmd, replay_cmd, gui_cmd, track_cmd, import_cmd, eval_cmd, detect_cmd, info_cmd, train_cmd,
    sparsity_cmd, augment_cmd, export_cmd, doctor_cmd, devices_cmd,
)  # fmt: skip

EPILOG = """examples:
  kestrel import ../shared/weights/nanodet/nanodet-plus-m_416.param -o models/plus416.onnx
  kestrel eval models/plus416.onnx --data ../shared/data/coco/tiny
  kestrel detect models/plus416.onnx photo.jpg --conf 0.4
  kestrel info models/plus416.onnx
"""


class Parser(argparse.ArgumentParser):
    """Usage mistakes are one ``kestrel: error:`` line (and exit 2), like every other error."""

    def error(self, message: str):
        print(f"kestrel: error: {self.prog.removeprefix('kestrel ')}: {message} (see {self.prog} --help)",
              file=sys.stderr)  # fmt: skip
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


def fail(message: str) -> int:
    from .capture.redact import redact_text

    print(f"kestrel: error: {redact_text(message)}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KestrelError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("kestrel: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file system refusal the command did not word itself
        where = f" ({exc.filename})" if exc.filename else ""
        return fail(f"{exc.strerror or exc}{where}")
    except Exception as exc:  # noqa: BLE001 - a bug still ends in one line; KESTREL_DEBUG=1 shows where
        if os.environ.get("KESTREL_DEBUG"):
            traceback.print_exc()
        return fail(f"unexpected {type(exc).__name__}: {exc} (set KESTREL_DEBUG=1 for the traceback)")


if __name__ == "__main__":
    sys.exit(main())
