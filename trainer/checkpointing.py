"""Checkpoints for exact resume: every tensor in safetensors, the rest in JSON. No pickle anywhere."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

STATE_FILE = "trainer.json"


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for pid, entries in state["state"].items():
        plain["state"][str(pid)] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().contiguous().cpu()
            else:
                plain["state"][str(pid)][key] = value
    return tensors, plain


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(pid): dict(v) for pid, v in plain["state"].items()}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(directory: Path, model: torch.nn.Module, ema: torch.nn.Module | None,
                    optimizer: torch.optim.Optimizer, scaler: Any, info: dict,
                    extra: dict[str, dict[str, torch.Tensor]] | None = None) -> None:  # fmt: skip
    """Write atomically: into a temp folder, then rename over the old one. ``extra``: more tensor files."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
    if ema is not None:
        save_file({k: v.detach().contiguous().cpu() for k, v in ema.state_dict().items()}, str(tmp / "ema.safetensors"))
    for name, tensors in (extra or {}).items():
        save_file(tensors, str(tmp / f"{name}.safetensors"))
    opt_tensors, opt_plain = _flatten_optimizer(optimizer.state_dict())
    extra = {"rng.torch": torch.get_rng_state()}
    save_file({**opt_tensors, **extra}, str(tmp / "optim.safetensors"))
    py_state = random.getstate()
    payload = {
        **info,
        "optimizer": opt_plain,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "python_rng": [py_state[0], list(py_state[1]), py_state[2]],
    }
    (tmp / STATE_FILE).write_text(json.dumps(payload))
    if directory.exists():
        old = directory.with_name(directory.name + ".old")
        os.replace(directory, old)
        os.replace(tmp, directory)
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    else:
        os.replace(tmp, directory)


def load_checkpoint(directory: Path, model: torch.nn.Module, ema: torch.nn.Module | None,
                    optimizer: torch.optim.Optimizer | None, scaler: Any) -> dict:  # fmt: skip
    directory = Path(directory)
    model.load_state_dict(load_file(str(directory / "model.safetensors")))
    if ema is not None and (directory / "ema.safetensors").exists():
        ema.load_state_dict(load_file(str(directory / "ema.safetensors")))
    payload = json.loads((directory / STATE_FILE).read_text())
    tensors = load_file(str(directory / "optim.safetensors"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    if optimizer is not None:
        optimizer.load_state_dict(_unflatten_optimizer(tensors, payload.pop("optimizer")))
    if scaler is not None and payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
    version, internal, gauss = payload.pop("python_rng")
    random.setstate((version, tuple(internal), gauss))
    return payload
