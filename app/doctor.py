"""What this machine has for Kestrel: GStreamer and its decoders, GPU, TensorRT, ONNX Runtime, the auto backend."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess

KEY_ELEMENTS = ("decodebin", "videoconvert", "appsink", "rtspsrc", "x264enc", "openh264enc", "mp4mux",
                "matroskamux", "v4l2src")  # fmt: skip
HW_DECODER_HINTS = ("nvh264dec", "nvh265dec", "nvv4l2decoder", "vaapih264dec", "vah264dec", "v4l2h264dec", "qsvh264dec")


def gstreamer_facts() -> list[tuple[str, str]]:
    from detector.errors import KestrelError

    from .gst import gst

    try:
        Gst = gst()  # also loads ONNX Runtime before GStreamer's libunwind (see app/gst.py)
    except KestrelError as exc:
        return [("GStreamer", f"Python bindings not available ({exc})")]
    have = [e for e in KEY_ELEMENTS if Gst.ElementFactory.find(e)]
    missing = [e for e in KEY_ELEMENTS if e not in have]
    hw = [e for e in HW_DECODER_HINTS if Gst.ElementFactory.find(e)]
    return [
        ("GStreamer", Gst.version_string()),
        ("  elements", ", ".join(have) + (f"  (missing: {', '.join(missing)})" if missing else "")),
        ("  hardware decoders", ", ".join(hw) or "none"),
    ]


def gpu_facts() -> list[tuple[str, str]]:
    rows = []
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
        rows.append(("GPU", out.stdout.strip() or out.stderr.strip() or "nvidia-smi failed"))
    else:
        rows.append(("GPU", "no NVIDIA driver (nvidia-smi not found)"))
    from detector.backends.torch_cuda_backend import nvidia_device_present

    if nvidia_device_present() and importlib.util.find_spec("torch"):
        import torch

        if torch.cuda.is_available():
            cc = ".".join(map(str, torch.cuda.get_device_capability()))
            rows.append(("  PyTorch CUDA", f"torch {torch.__version__}, compute capability {cc}"))
    spec = importlib.util.find_spec("tensorrt")
    if spec:
        import tensorrt

        rows.append(("TensorRT", tensorrt.__version__))
    else:
        rows.append(("TensorRT", "not installed"))
    rows.append(("cuda-python", "installed" if importlib.util.find_spec("cuda") else "not installed"))
    return rows


def doctor_rows() -> list[tuple[str, str]]:
    import onnxruntime as ort

    from detector.backends import choose_backend

    host = f"{platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    rows = [("Python", host),
            ("ONNX Runtime", f"{ort.__version__}, providers: {', '.join(ort.get_available_providers())}")]  # fmt: skip
    rows += gstreamer_facts()
    rows += gpu_facts()
    try:
        rows.append(("backend 'auto' picks", choose_backend("auto").name))
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        rows.append(("backend 'auto' picks", f"nothing: {exc}"))
    return rows
