"""The GPU path, as far as this machine allows: FP16 packages, engine files and cache keys, backend
choice, the torch backend's graph conversion. GPU and TensorRT runs skip with a reason."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from detector.backends import AUTO_ORDER, BACKENDS, choose_backend
from detector.backends.base import Backend
from detector.detector import Detector
from detector.errors import BackendError, ModelPackageError
from detector.images import read_image
from detector.tensorrt.engine_file import BuildKey, cache_path, read_engine, write_engine

HAS_CUDA = False
if importlib.util.find_spec("torch"):
    import torch

    HAS_CUDA = torch.cuda.is_available()


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_fp16_package_agrees_with_fp32_on_real_images(plus320, tiny_val_images, tmp_path):
    """Stated tolerance: class scores within 0.01, and >= 95 % of FP32 detections (conf 0.35) found by FP16
    with the same class at IoU >= 0.9."""
    pytest.importorskip("onnxconverter_common", reason="FP16 export needs onnxconverter-common (gpu extra)")
    out = tmp_path / "fp16.onnx"
    assert main(["export", str(plus320), "--format", "onnx", "--fp16", "-o", str(out)]) == 0
    assert out.stat().st_size < 0.6 * plus320.stat().st_size
    full, half = Detector.load(plus320), Detector.load(out)
    assert half.meta.extra["precision"] == "fp16"
    matched = total = 0
    for path in tiny_val_images[:10]:
        frame = read_image(path)
        x, _ = full._pre(frame)
        a, b = full.backend.infer(x[None])[0], half.backend.infer(x[None])[0]
        assert np.abs(a[:, :80] - b[:, :80]).max() <= 0.01
        da, db = full(frame), half(frame)
        total += len(da)
        if len(da) and len(db):
            same = (da.class_ids[:, None] == db.class_ids[None, :]) & (iou(da.boxes, db.boxes) >= 0.9)
            matched += int(same.any(axis=1).sum())
    assert total > 20 and matched / total >= 0.95


def key(**changes) -> BuildKey:
    base = dict(package_sha256="ab" * 32, gpu="NVIDIA H100 80GB HBM3", compute_capability="9.0",
                tensorrt="10.13.0", precision="fp16", sparse=True, batch=(1, 1, 8))  # fmt: skip
    return BuildKey(**{**base, **changes})


def test_engine_file_round_trips_metadata_key_and_plan(plus320, tmp_path):
    meta = Detector.load(plus320).meta
    path = tmp_path / "m.engine"
    plan = bytes(range(256)) * 10
    write_engine(path, meta, key(), plan)
    got_meta, got_key, got_plan = read_engine(path)
    assert got_meta == meta and got_key == key() and got_plan == plan


def test_cache_keys_change_with_gpu_tensorrt_package_and_options():
    base = key().digest()
    for change in (dict(gpu="NVIDIA A100"), dict(tensorrt="10.14.1"), dict(package_sha256="cd" * 32),
                   dict(precision="int8"), dict(sparse=False), dict(batch=(1, 4, 16)), dict(os="windows")):  # fmt: skip
        assert key(**change).digest() != base, change
    assert key().digest() == base
    assert cache_path(Path("a/model.onnx"), key(), Path("/c")).name == f"model-{base}.engine"


def test_foreign_or_damaged_engine_files_are_refused(tmp_path):
    bad = tmp_path / "x.engine"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelPackageError, match="not a Kestrel engine"):
        read_engine(bad)
    bad.write_bytes(b"KESTREL-TRT" + (1).to_bytes(2, "little") + (5).to_bytes(4, "little") + b"{oops")
    with pytest.raises(ModelPackageError, match="corrupt engine header"):
        read_engine(bad)


def test_auto_prefers_gpu_backends_and_falls_back_to_onnxruntime():
    assert AUTO_ORDER == ["tensorrt", "torch-cuda", "onnxruntime"]
    if not HAS_CUDA:
        assert choose_backend("auto").name == "onnxruntime"
        with pytest.raises(BackendError, match="not available on this machine"):
            choose_backend("tensorrt")
    with pytest.raises(BackendError, match="unknown backend"):
        choose_backend("opencl")

    class AlwaysThere(Backend):
        name = "always"

    BACKENDS["always"] = AlwaysThere
    AUTO_ORDER.insert(0, "always")
    try:
        assert choose_backend("auto") is AlwaysThere
    finally:
        AUTO_ORDER.remove("always")
        del BACKENDS["always"]


def test_torch_backend_runs_the_package_graph_exactly(plus320, tiny_val_images):
    pytest.importorskip("onnx2torch", reason="the torch-cuda backend needs onnx2torch (gpu extra)")
    from detector.backends.torch_cuda_backend import TorchCudaBackend

    ort_det = Detector.load(plus320)
    x, _ = ort_det._pre(read_image(tiny_val_images[0]))
    expected = ort_det.backend.infer(x[None])
    cpu = TorchCudaBackend(plus320, device="cpu")
    assert "fp32" in cpu.describe()
    assert np.abs(cpu.infer(x[None]) - expected).max() < 1e-3


@pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU with PyTorch CUDA")
def test_torch_cuda_fp16_graphs_match_the_cpu(plus320, tiny_val_images):
    from detector.backends.torch_cuda_backend import TorchCudaBackend

    ort_det = Detector.load(plus320)
    x, _ = ort_det._pre(read_image(tiny_val_images[0]))
    gpu = TorchCudaBackend(plus320)
    assert np.abs(gpu.infer(x[None])[..., :80] - ort_det.backend.infer(x[None])[..., :80]).max() < 0.01


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="TensorRT is not installed here")
def test_tensorrt_engine_builds_and_matches(plus320, tiny_val_images, tmp_path):
    from detector.backends.tensorrt_backend import TensorRTBackend

    ort_det = Detector.load(plus320)
    x, _ = ort_det._pre(read_image(tiny_val_images[0]))
    trt = TensorRTBackend(plus320, fp16=True)
    assert np.abs(trt.infer(x[None])[..., :80] - ort_det.backend.infer(x[None])[..., :80]).max() < 0.01


def test_engine_export_without_tensorrt_is_one_clear_error(plus320, capsys):
    if importlib.util.find_spec("tensorrt"):
        pytest.skip("TensorRT is installed here")
    assert main(["export", str(plus320), "--format", "engine", "--fp16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "TensorRT is not installed" in err[0]


def test_doctor_reports_the_machine(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ONNX Runtime" in out and "backend 'auto' picks" in out
