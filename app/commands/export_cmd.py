"""kestrel export: a model package -> an FP16 package or a TensorRT engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.errors import KestrelError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model package as FP16 ONNX or a TensorRT engine",
        description="--format onnx --fp16 writes an FP16 package (float32 in/out). --format engine builds a "
        "TensorRT engine (needs TensorRT and an NVIDIA GPU): FP16 from an FP16 ONNX (strongly typed), "
        "--sparse turns on 2:4 sparse kernels for weights that hold the pattern (Ampere+), --int8 "
        "calibrates on real images. The engine file carries the package metadata in front.",
    )
    p.add_argument("package", type=Path, help="model package (.onnx)")
    p.add_argument("--format", choices=["onnx", "engine"], default="engine")
    p.add_argument("-o", "--output", type=Path, help="output file (default: beside the package)")
    p.add_argument("--fp16", action="store_true", help="half precision")
    p.add_argument("--sparse", action="store_true", help="engine: enable 2:4 sparse weights")
    p.add_argument("--int8", action="store_true", help="engine: INT8 with entropy calibration")
    p.add_argument("--calib", type=Path, help="engine --int8: folder of calibration images")
    p.add_argument("--batch", default="1:1:8", help="engine: MIN:OPT:MAX batch sizes (default 1:1:8)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.package.is_file():
        raise KestrelError(f"model package not found: {args.package}")
    from ..outputs import atomic_output, check_output

    if args.format == "onnx":
        if not args.fp16:
            raise KestrelError("--format onnx only converts to FP16: add --fp16")
        from detector.precision import to_fp16_package

        out = check_output(args.output or args.package.with_name(args.package.stem + "-fp16.onnx"), [args.package],
                           args.overwrite)  # fmt: skip
        with atomic_output(out) as tmp:
            to_fp16_package(args.package, tmp)
        print(f"wrote {out}")
        return 0
    try:
        lo, opt, hi = (int(v) for v in args.batch.split(":"))
        assert 1 <= lo <= opt <= hi
    except (ValueError, AssertionError):
        raise KestrelError(f"--batch {args.batch}: expected MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX") from None
    calib = None
    if args.int8:
        if not args.calib or not args.calib.is_dir():
            raise KestrelError("--int8 needs --calib DIR with calibration images")
        calib = sorted(p for p in args.calib.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    from detector.tensorrt.builder import build_engine

    suffix = "-int8" if args.int8 else "-fp16" if args.fp16 else ""
    name = args.package.stem + suffix + (".sparse" if args.sparse else "") + ".engine"
    out = check_output(args.output or args.package.with_name(name), [args.package], args.overwrite)
    with atomic_output(out) as tmp:
        build_engine(args.package, tmp, fp16=args.fp16, sparse=args.sparse, int8=args.int8, calib=calib,
                     batch=(lo, opt, hi))  # fmt: skip
    print(f"wrote {out}")
    return 0
