"""kestrel info: show a model package's metadata."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from detector.package import read_meta


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a model package's metadata")
    p.add_argument("package", type=Path, help="model package (.onnx)")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    meta = read_meta(args.package)
    if args.json:
        print(json.dumps(asdict(meta), indent=2))
        return 0
    size = args.package.stat().st_size / 1e6
    print(f"{args.package} ({size:.1f} MB)")
    print(f"  name          {meta.name} (version {meta.version}, from {meta.source or 'unknown'})")
    print(f"  input         {meta.input_width}x{meta.input_height}, {meta.resize}, {meta.color.upper()}")
    print(f"  normalise     mean {list(meta.mean)} std {list(meta.std)}")
    print(f"  head          strides {list(meta.strides)}, reg_max {meta.reg_max}, "
          f"centre offset {meta.center_offset}, layout {meta.output_layout}")  # fmt: skip
    shown = ", ".join(meta.class_names[:8]) + (", ..." if meta.num_classes > 8 else "")
    print(f"  classes       {meta.num_classes}: {shown}")
    return 0
