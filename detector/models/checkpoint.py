"""Loading weights safely: tensors only, never pickled code."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelImportError
from .pickle_scan import disallowed_globals

# Keys NanoDet checkpoints carry that inference never uses.
UNUSED_PREFIXES = ("head.gfl_reg.", "head.distribution_project.", "aux_fpn.", "aux_head.")


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside a .ckpt/.pth/.safetensors file, loaded without executing pickled code.

    Accepts a plain state dict, a PyTorch Lightning checkpoint (``state_dict``) or ``{"model": ...}``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise ModelImportError(f"{path} is not a readable safetensors file ({exc})") from None
    bad, parsed = disallowed_globals(path)
    if bad:
        raise ModelImportError(
            f"{path} holds pickled objects other than tensors ({', '.join(sorted(bad))}); refusing to load it"
        )
    if not parsed:
        raise ModelImportError(f"{path} is not a readable PyTorch checkpoint (not a pickle or zip archive)")
    try:  # second guard: torch's own restricted unpickler
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelImportError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    state = raw
    if isinstance(raw, dict):
        for key in ("state_dict", "model"):
            if isinstance(raw.get(key), dict):
                state = raw[key]
                break
    if not isinstance(state, dict) or not state:
        raise ModelImportError(f"{path} holds no state dict")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelImportError(f"{path}: state dict entries are not tensors: {bad[:3]}")
    return state


def nanodet_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip Lightning/DDP prefixes (preferring the EMA copy ``avg_model.``) and unused keys."""
    prefix = "avg_model." if any(k.startswith("avg_model.") for k in state) else "model."
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if any(key.startswith(p) for p in ("model.", "avg_model.")):
            if not key.startswith(prefix):
                continue
            key = key[len(prefix) :]
        if not key.startswith(UNUSED_PREFIXES):
            out[key] = value
    return out


def guess_architecture(state: dict[str, torch.Tensor]) -> str:
    if "fpn.reduce_layers.0.conv.weight" in state:
        return "nanodet-plus-m"
    if "fpn.lateral_convs.0.conv.weight" in state:
        return "nanodet-m"
    raise ModelImportError("cannot tell the architecture of this checkpoint; pass --arch")
