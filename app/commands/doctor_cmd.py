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
    p.add_argument("--triton", metavar="URL", help="check a Triton server's health and its model "
                   "(triton://HOST:PORT/MODEL or triton+http://...); exit 1 if it is not ready")  # fmt: skip
    p.add_argument("--config", type=Path, help="check the Triton server a `kestrel serve` config names")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import doctor_rows

    for key, value in doctor_rows():
        print(f"{key:24s} {value}")
    if args.triton or args.config:
        return triton_check(args)
    if not args.gpu:
        return 0
    from ..gpu_check import run_gpu_check

    results = run_gpu_check(args.model, args.sparse_model, args.images)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.out}")
    return 0


def triton_check(args: argparse.Namespace) -> int:
    """Server live and ready, the model ready and its metadata: one line each."""
    from detector.backends.triton_backend import TritonBackend, is_triton_url
    from detector.errors import KestrelError

    url = args.triton
    if args.config:
        from ..service.config import load_service_config

        url = load_service_config(args.config).model
        if not is_triton_url(url):
            raise KestrelError(f"{args.config}: its model is not on a Triton server (model: {url or 'the default'})")
    if not is_triton_url(url):
        raise KestrelError(f"--triton {url}: expected triton://HOST:PORT/MODEL or triton+http://HOST:PORT/MODEL")
    try:
        backend = TritonBackend(url, timeout=5.0)
        health = backend.health()
    except KestrelError as exc:
        print(f"{'triton':24s} {url}: NOT READY: {exc}")
        return 1
    meta = backend.meta
    print(f"{'triton':24s} {backend.describe()}: server live {health['live']}, ready {health['ready']}, "
          f"model ready {health['model_ready']}")
    print(f"{'triton model':24s} {meta.name}: {meta.input_width}x{meta.input_height}, {meta.num_classes} classes, "
          f"max batch {backend.max_batch}")
    backend.close()
    return 0 if all(health.values()) else 1
