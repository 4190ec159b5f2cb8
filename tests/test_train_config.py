"""Training recipes as YAML: numbers as people write them, and recipes that extend other recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import load_config
from trainer.typed_config import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_a_float_written_without_a_dot_is_a_number(tmp_path):
    """PyYAML reads ``1e-4`` as a string; config values and overrides still mean the number."""
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 1e-4, weight_decay: 5E-2}\n")
    cfg = load_config(str(path), ["optim.min_lr_ratio=2e-3"])
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.min_lr_ratio) == (1e-4, 5e-2, 2e-3)
    with pytest.raises(ConfigError, match="expected a number"):
        load_config(str(path), ["optim.lr=1e-4x"])


def test_extends_merges_sections_and_replaces_lists(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "name: base\noptim: {epochs: 120, lr: 1.0e-4, milestones: [3, 5]}\n"
        "data: {augment: {mosaic: 0.3, mixup: 0.1}}\n"
    )
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("extends: ../base.yaml\nname: child\noptim: {epochs: 20, milestones: []}\n"
                     "data: {augment: {mixup: 0.0}}\n")  # fmt: skip
    cfg = load_config(str(child), ["optim.lr=3e-5"])
    assert cfg.name == "child" and cfg.optim.epochs == 20 and cfg.optim.lr == 3e-5
    assert cfg.optim.milestones == () and (cfg.data.augment.mosaic, cfg.data.augment.mixup) == (0.3, 0.0)


def test_extends_errors_are_clear(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\n")
    b.write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(str(a))
    a.write_text("extends: missing.yaml\n")
    with pytest.raises(ConfigError, match="config not found: .*missing.yaml"):
        load_config(str(a))
    a.write_text("extends: [b.yaml]\n")
    with pytest.raises(ConfigError, match="extends: expected a file name"):
        load_config(str(a))


def test_the_averaging_stage_is_stage_2_with_only_its_own_changes():
    pytest.importorskip("torch", reason="model configs import the torch model registry")
    import dataclasses

    stage2 = dataclasses.asdict(load_config(str(CONFIGS / "default-lite0-320-2of4.yaml")))
    average = dataclasses.asdict(load_config(str(CONFIGS / "default-lite0-320-2of4-average.yaml")))
    changed = {f"{s}.{k}" for s in stage2 if isinstance(stage2[s], dict)
               for k in stage2[s] if stage2[s][k] != average[s][k]}  # fmt: skip
    assert changed == {"optim.epochs", "optim.lr", "optim.schedule", "optim.warmup_steps",
                       "optim.average_from", "sparsity.init"}  # fmt: skip
    assert average["sparsity"]["init"] == f"runs/{stage2['name']}/model.safetensors"
    assert average["optim"]["average_from"] == 1 and average["sparsity"]["enabled"]
