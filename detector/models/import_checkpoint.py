"""`kestrel import` for NanoDet PyTorch checkpoints (.ckpt/.pth/.safetensors)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelImportError
from ..ncnn.importer import guess_input_size
from ..package import PackageMeta
from .build import ARCHITECTURES, OneStageDetector, build_model
from .checkpoint import guess_architecture, load_tensors, nanodet_state_dict
from .export import export_package, package_meta


def load_nanodet_checkpoint(path: str | Path, arch: str | None = None) -> OneStageDetector:
    """A NanoDet(-Plus) torch model with the checkpoint's weights, in eval mode."""
    state = nanodet_state_dict(load_tensors(path))
    arch = arch or guess_architecture(state)
    if arch not in ARCHITECTURES:
        raise ModelImportError(f"unknown architecture '{arch}' (known: {', '.join(ARCHITECTURES)})")
    model = build_model(arch)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ModelImportError(
            f"{path} does not fit {arch}: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}), {len(wrong)} of another shape (e.g. {wrong[:2]})"
        )
    model.load_state_dict(state, strict=False)
    return model.eval()


def import_checkpoint(
    path: str | Path, output: str | Path, arch: str | None = None, input_size: int | None = None,
    name: str | None = None,
) -> PackageMeta:  # fmt: skip
    path = Path(path)
    model = load_nanodet_checkpoint(path, arch)
    size = input_size or guess_input_size(path) or model.config.input_size
    meta = package_meta(model, size, name=name or path.stem, source=f"checkpoint:{path.name}")
    export_package(model, meta, output)
    return meta
