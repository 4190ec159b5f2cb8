"""The models the project ships in assets/ (made by the project itself: see assets/MODEL_CARD.md)."""

from __future__ import annotations

from pathlib import Path

from detector.errors import KestrelError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DENSE = ASSETS / "kestrel-lite0-320.onnx"
SPARSE = ASSETS / "kestrel-lite0-320-2of4.onnx"
# The dense student: the 2:4 one lost more than 0.02 mAP on this CPU-sized recipe (assets/MODEL_CARD.md),
# and ONNX Runtime on a CPU runs both at the same speed. TensorRT users pick the sparse one explicitly.
DEFAULT = DENSE


def default_model() -> Path:
    """The bundled default model package; a clear error when the checkout lacks it."""
    if not DEFAULT.is_file():
        raise KestrelError(f"the bundled model {DEFAULT} is missing (an incomplete checkout?); pass --model PACKAGE")
    return DEFAULT
