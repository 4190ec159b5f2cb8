"""kestrel doctor: what this machine has, which backend `auto` picks; --gpu runs the GPU self-check."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this machine: GStreamer, GPU, TensorRT, backends",
                       description="Report GStreamer elements and hardware decoders, the GPU, TensorRT, ONNX "
                       "Runtime providers and the backend 'auto' picks. With --gpu: parity of the GPU "
                       "backends with ONNX Runtime on the CPU, and a latency table.")  # fmt: skip
    p.add_argument("--gpu", action="store_true", help="run the GPU self-check (needs an NVIDIA GPU)")
    p.add_argument("--model", type=Path, help="--gpu: model package (default: the bundled dense model)")
    p.add_argument("--sparse-model", type=Path,
                   help="--gpu: the 2:4-sparse package to compare against (default: the bundled one)")
    p.add_argument("--images", type=Path, help="--gpu: folder of real images (default: COCO tiny val)")
    p.add_argument("--out", type=Path, help="--gpu: write the results as JSON here")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import doctor_rows

    for key, value in doctor_rows():
        print(f"{key:24s} {value}")
    if not args.gpu:
        return 0
    from ..gpu_check import run_gpu_check

    results = run_gpu_check(args.model, args.sparse_model, args.images)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.out}")
    return 0
