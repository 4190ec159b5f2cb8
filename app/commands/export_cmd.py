"""kestrel export: a model package -> an FP16 package, a TensorRT engine or a Triton model repository."""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.errors import KestrelError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model package as FP16 ONNX, a TensorRT engine or a Triton model repository",
        description="--format onnx --fp16 writes an FP16 package (float32 in/out). --format engine builds a "
        "TensorRT engine (needs TensorRT and an NVIDIA GPU): FP16 from an FP16 ONNX (strongly typed), "
        "--sparse turns on 2:4 sparse kernels for weights that hold the pattern (Ampere+), --int8 "
        "calibrates on real images. The engine file carries the package metadata in front. --format triton "
        "-o REPO/ writes a Triton Inference Server model repository (REPO/NAME/config.pbtxt with dynamic "
        "batching and the package metadata, REPO/NAME/1/model.onnx); serve it and use "
        "--model triton://HOST:8001/NAME anywhere a model is accepted.",
    )
    p.add_argument("package", type=Path, help="model package (.onnx)")
    p.add_argument("--format", choices=["onnx", "engine", "triton"], default="engine")
    p.add_argument("-o", "--output", type=Path, help="output file (default: beside the package)")
    p.add_argument("--fp16", action="store_true", help="half precision")
    p.add_argument("--sparse", action="store_true", help="engine: enable 2:4 sparse weights")
    p.add_argument("--int8", action="store_true", help="engine: INT8 with entropy calibration")
    p.add_argument("--calib", type=Path, help="engine --int8: folder of calibration images")
    p.add_argument("--batch", default="1:1:8", help="engine: MIN:OPT:MAX batch sizes (default 1:1:8)")
    p.add_argument("--name", help="triton: the model's name in the repository (default: the package's name)")
    p.add_argument("--triton-backend", choices=["onnxruntime", "python"], default="onnxruntime",
                   help="triton: onnxruntime (NVIDIA's server builds) or python (a model.py running ONNX Runtime, "
                   "for servers without that backend; default onnxruntime)")  # fmt: skip
    p.add_argument("--max-batch", type=int, default=8, help="triton: max_batch_size (default 8)")
    p.add_argument("--queue-delay-us", type=int, default=2000,
                   help="triton: dynamic batching's max queue delay, microseconds (default 2000)")
    p.add_argument("--instances", type=int, default=1, help="triton: model instances (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.package.is_file():
        raise KestrelError(f"model package not found: {args.package}")
    from ..outputs import atomic_output, check_output

    if args.format == "triton":
        from detector.triton_repo import write_repository

        if args.output is None:
            raise KestrelError("--format triton needs -o REPO (the model repository folder)")
        folder = write_repository(args.package, args.output, args.name, args.triton_backend, args.max_batch,
                                  args.queue_delay_us, args.instances, args.overwrite)  # fmt: skip
        print(f"wrote {folder} (serve {args.output} with tritonserver --model-repository; then "
              f"--model triton://HOST:8001/{folder.name})")  # fmt: skip
        return 0
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
