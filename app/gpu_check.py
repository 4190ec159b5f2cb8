"""The GPU self-check behind `kestrel doctor --gpu`: parity of the GPU backends with ONNX Runtime on the
CPU on real images, then a latency table (FP32 / FP16 / FP16 + CUDA graphs, dense vs 2:4, TensorRT
where it is importable)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from detector.backends.onnxruntime_backend import OnnxRuntimeBackend
from detector.backends.torch_cuda_backend import TorchCudaBackend
from detector.decode import GflDecoder
from detector.errors import KestrelError
from detector.images import read_image
from detector.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VARIANTS = {  # name -> TorchCudaBackend options
    "torch-cuda fp32": dict(fp16=False, channels_last=False, cuda_graphs=False),
    "torch-cuda fp16": dict(fp16=True, channels_last=False, cuda_graphs=False),
    "torch-cuda fp16 channels-last": dict(fp16=True, channels_last=True, cuda_graphs=False),
    "torch-cuda fp16 + CUDA graphs": dict(fp16=True, channels_last=True, cuda_graphs=True),
}


def default_models() -> tuple[Path, Path | None]:
    """The bundled dense model and its 2:4-sparse sibling."""
    from .models import DENSE, SPARSE

    if not DENSE.is_file():
        raise KestrelError(f"no model: pass --model ({DENSE} is missing)")
    return DENSE, SPARSE if SPARSE.is_file() else None


def parity(model: Path, blobs: list[np.ndarray]) -> list[dict]:
    ref = OnnxRuntimeBackend(model)
    decoder, c = GflDecoder(ref.meta), ref.meta.num_classes
    expected = [ref.infer(b[None])[0] for b in blobs]
    rows = []
    for name in ("torch-cuda fp32", "torch-cuda fp16 + CUDA graphs"):
        backend = TorchCudaBackend(model, **VARIANTS[name])
        score_diff, box_diff = 0.0, 0.0
        for blob, want in zip(blobs, expected, strict=True):
            got = backend.infer(blob[None])[0]
            score_diff = max(score_diff, float(np.abs(got[:, :c] - want[:, :c]).max()))
            points = np.nonzero(want[:, :c].max(axis=1) > 0.05)[0]
            if len(points):
                diff = np.abs(decoder.boxes_at(got, points) - decoder.boxes_at(want, points)).max()
                box_diff = max(box_diff, float(diff))
        rows.append({"backend": backend.describe(), "images": len(blobs), "max_score_diff": round(score_diff, 5),
                     "max_box_diff_px": round(box_diff, 3)})  # fmt: skip
    return rows


def time_backend(backend, batch: np.ndarray, iters: int = 200) -> dict:
    for _ in range(20):
        backend.infer(batch)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        backend.infer(batch)  # returns host memory: synchronised
        times.append((time.perf_counter() - t0) * 1e3)
    median = float(np.median(times))
    return {"median_ms": round(median, 3), "p90_ms": round(float(np.percentile(times, 90)), 3),
            "images_per_s": round(len(batch) * 1e3 / median, 1)}  # fmt: skip


def latency(packages: dict[str, Path], blob: np.ndarray) -> list[dict]:
    rows = []
    for label, package in packages.items():
        for batch_size in (1, 8):
            batch = np.repeat(blob[None], batch_size, axis=0)
            for options in VARIANTS.values():
                backend = TorchCudaBackend(package, **options)
                timing = time_backend(backend, batch)
                rows.append({"model": label, "backend": backend.describe(), "batch": batch_size, **timing})
            if importlib.util.find_spec("tensorrt"):
                from detector.backends.tensorrt_backend import TensorRTBackend

                for sparse in (False, True):
                    be = TensorRTBackend(package, fp16=True, sparse=sparse)
                    rows.append({"model": label, "backend": f"tensorrt fp16{' sparse' if sparse else ''}",
                                 "batch": batch_size, **time_backend(be, batch)})  # fmt: skip
        rows.append({"model": label, "backend": "onnxruntime cpu (reference)", "batch": 1,
                     **time_backend(OnnxRuntimeBackend(package), blob[None], iters=30)})  # fmt: skip
    return rows


def print_rows(rows: list[dict]) -> None:
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)))


def run_gpu_check(model: Path | None, sparse_model: Path | None, images: Path | None) -> dict:
    if not TorchCudaBackend.available():
        raise KestrelError("the GPU self-check needs an NVIDIA GPU with PyTorch CUDA and onnx2torch")
    import torch

    if model is None:
        model, bundled_sparse = default_models()
        sparse_model = sparse_model or bundled_sparse
    folder = images or SHARED / "data" / "coco" / "tiny" / "val2017"
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".png"))[:20]
    if not paths:
        raise KestrelError(f"no images in {folder}")
    pre = Preprocessor(OnnxRuntimeBackend(model).meta)
    blobs = [pre(read_image(p))[0] for p in paths]
    print(f"\nGPU self-check on {torch.cuda.get_device_name()} with {model.name}")
    par = parity(model, blobs)
    print_rows(par)
    packages = {"dense": model} | ({"2:4 sparse": sparse_model} if sparse_model else {})
    lat = latency(packages, blobs[0])
    print()
    print_rows(lat)
    if not importlib.util.find_spec("tensorrt"):
        print("TensorRT is not importable here: no engine built, no TensorRT rows.")
    print("PyTorch has no 2:4 kernels for convolutions (to_sparse_semi_structured covers Linear only): the "
          "2:4 rows run dense kernels on zero-filled weights.")  # fmt: skip
    return {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "parity": par, "latency": lat}
