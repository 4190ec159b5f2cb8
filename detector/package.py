"""The model package: one ONNX file whose metadata holds everything a runtime needs.

The metadata lives in the ONNX ``metadata_props`` under the key ``kestrel`` as one JSON object
(schema ``kestrel.model/1``); see README "The model package". Every backend is built from it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ModelPackageError

SCHEMA = "kestrel.model/1"
METADATA_KEY = "kestrel"
RESIZE_MODES = ("stretch", "letterbox")
COLOR_ORDERS = ("bgr", "rgb")
# gfl_bins: [N, P, C + 4*(reg_max+1)] class probabilities, then each side's bin logits (l, t, r, b).
# gfl_distances: [N, P, C + 4] class probabilities, then distances in stride units (decoded in-graph).
OUTPUT_LAYOUTS = ("gfl_bins", "gfl_distances")
NANODET_MEAN = (103.53, 116.28, 123.675)
NANODET_STD = (57.375, 57.12, 58.395)
MAX_INPUT_SIDE = 4096  # larger is a typo or a hostile file: 60000x60000 would ask for tens of GB


@dataclass(frozen=True)
class PackageMeta:
    """What a runtime needs to turn frames into detections with this model."""

    name: str
    class_names: tuple[str, ...]
    input_width: int
    input_height: int
    strides: tuple[int, ...]
    reg_max: int
    center_offset: float = 0.0
    resize: str = "stretch"
    color: str = "bgr"
    mean: tuple[float, float, float] = NANODET_MEAN
    std: tuple[float, float, float] = NANODET_STD
    output_layout: str = "gfl_bins"
    version: str = "1"
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        problems = []
        if not self.class_names:
            problems.append("class_names is empty")
        elif not all(isinstance(c, str) and c for c in self.class_names):
            problems.append("class_names must be non-empty strings")
        if not (_is_int(self.input_width) and _is_int(self.input_height)):
            problems.append(f"input size {self.input_width!r}x{self.input_height!r} must be whole numbers")
        elif not (0 < self.input_width <= MAX_INPUT_SIDE and 0 < self.input_height <= MAX_INPUT_SIDE):
            problems.append(f"input size {self.input_width}x{self.input_height} is outside 1..{MAX_INPUT_SIDE}")
        if not self.strides or not all(_is_int(s) and 0 < s <= 1024 for s in self.strides):
            problems.append(f"strides {self.strides} must be whole numbers in 1..1024")
        if not _is_int(self.reg_max) or not 1 <= self.reg_max <= 64:
            problems.append(f"reg_max {self.reg_max!r} must be a whole number in 1..64")
        if not _is_number(self.center_offset) or not 0.0 <= self.center_offset < 1.0:
            problems.append(f"center_offset {self.center_offset!r} must be in [0, 1)")
        if self.resize not in RESIZE_MODES:
            problems.append(f"resize '{self.resize}' is not one of {RESIZE_MODES}")
        if self.color not in COLOR_ORDERS:
            problems.append(f"color '{self.color}' is not one of {COLOR_ORDERS}")
        if (len(self.mean) != 3 or len(self.std) != 3 or not all(_is_number(v) for v in (*self.mean, *self.std))
                or not all(v > 0 for v in self.std)):  # fmt: skip
            problems.append("mean and std need 3 finite numbers each, std positive")
        if self.output_layout not in OUTPUT_LAYOUTS:
            problems.append(f"output_layout '{self.output_layout}' is not one of {OUTPUT_LAYOUTS}")
        if self.schema != SCHEMA:
            problems.append(f"schema '{self.schema}' is not '{SCHEMA}' (made by a newer Kestrel?)")
        if problems:
            raise ModelPackageError("invalid model package metadata: " + "; ".join(problems))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def output_channels(self) -> int:
        box = 4 * (self.reg_max + 1) if self.output_layout == "gfl_bins" else 4
        return self.num_classes + box

    def num_points(self) -> int:
        return sum(
            _ceil_div(self.input_width, s) * _ceil_div(self.input_height, s) for s in self.strides
        )

    def with_changes(self, **changes: Any) -> PackageMeta:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, origin: str = "model package") -> PackageMeta:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelPackageError(f"{origin}: metadata is not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ModelPackageError(f"{origin}: metadata must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ModelPackageError(f"{origin}: unknown metadata fields {unknown}")
        try:
            for key in ("class_names", "strides", "mean", "std"):
                if key in raw:
                    if not isinstance(raw[key], list):
                        raise ModelPackageError(f"{origin}: metadata field {key} must be a list")
                    raw[key] = tuple(raw[key])
            return cls(**raw)
        except TypeError as exc:
            raise ModelPackageError(f"{origin}: incomplete metadata ({exc})") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def read_meta(path: str | Path) -> PackageMeta:
    """Read and validate the metadata of a model package without running it."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelPackageError(f"model package not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends for a corrupt file
        raise ModelPackageError(f"{path} is not a readable ONNX file ({type(exc).__name__})") from None
    return meta_from_props({p.key: p.value for p in model.metadata_props}, str(path))


def meta_from_props(props: dict[str, str], origin: str) -> PackageMeta:
    if METADATA_KEY not in props:
        raise ModelPackageError(
            f"{origin} is an ONNX file without Kestrel metadata; import it with `kestrel import` first"
        )
    return PackageMeta.from_json(props[METADATA_KEY], origin)


def write_meta(model: Any, meta: PackageMeta) -> None:
    """Store ``meta`` in an in-memory ``onnx.ModelProto`` (replacing any previous value)."""
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
