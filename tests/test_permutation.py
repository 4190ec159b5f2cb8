"""Channel permutation before 2:4 pruning: the same network, masks that keep more."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from detector.models import build_model  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from trainer.config import SparsityConfig, load_config  # noqa: E402
from trainer.permutation import kept, permute, swap_search, top2  # noqa: E402

BIG = ("backbone.body.blocks.4", "backbone.body.blocks.5", "backbone.body.blocks.6")  # skipped: keeps the test fast


def lite0() -> torch.nn.Module:
    mcfg = load_config(ROOT / "configs" / "road-lite0-320-2of4.yaml").model_config()
    mcfg = dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False))
    torch.manual_seed(0)
    model = build_model(mcfg)
    with torch.no_grad():  # BN statistics of a trained network, so reordering them wrongly shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def test_swap_search_finds_the_order_that_keeps_everything():
    magnitude = np.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]] * 3, dtype=np.float32)
    order = swap_search(magnitude)
    assert sorted(order) == list(range(8))
    assert top2(magnitude.reshape(3, 2, 4)).sum() == 6.0
    assert top2(magnitude[:, order].reshape(3, 2, 4)).sum() == 12.0


def test_permuting_keeps_the_function_and_raises_the_kept_magnitude():
    model = lite0()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    skipped = model.backbone.body.blocks[5][0].conv_pwl.weight.clone()
    rows = permute(model, skip=BIG)
    with torch.no_grad():
        after = model(x)
    assert float((after - before).norm() / before.norm()) < 1e-5
    names = {r["layer"] for r in rows}
    assert "backbone.body.blocks.1.0.conv_pwl" in names and "head.gfl_cls.0" in names
    assert not any(n.startswith(BIG) for n in names)
    assert torch.equal(model.backbone.body.blocks[5][0].conv_pwl.weight, skipped)
    assert all(r["kept_after"] >= r["kept_before"] for r in rows)
    assert sum(r["kept_after"] - r["kept_before"] for r in rows) / len(rows) > 0.005
    kept_now, total = kept(model.head.gfl_cls[0].weight)
    assert abs(kept_now / total - next(r for r in rows if r["layer"] == "head.gfl_cls.0")["kept_after"]) < 1e-3


def test_permutation_is_for_masks_cut_once_by_magnitude():
    assert SparsityConfig(enabled=True, permute=True).permute
    with pytest.raises(ValueError, match="permute"):
        SparsityConfig(enabled=True, permute=True, srste_epochs=2)
    with pytest.raises(ValueError, match="permute"):
        SparsityConfig(enabled=True, permute=True, reconstruct_images=8)


def test_a_2of4_run_with_permutation_starts_and_trains(tmp_path):
    from tests.trainer_fixtures import tiny_config
    from trainer.config import TrainConfig, from_dict
    from trainer.loop import Trainer

    data = tiny_config(tmp_path, epochs=1)
    data["sparsity"] = {"enabled": True, "permute": True}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    assert trainer.masks  # the network's eligible layers are 2:4 after the (here empty) reordering
    assert trainer.fit().is_file()


class _NotFree(torch.nn.Module):
    """Named like an MBConv block, but the expansion's channels are also used directly: their order matters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_pw = torch.nn.Conv2d(16, 32, 1)
        self.conv_dw = torch.nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.conv_pwl = torch.nn.Conv2d(32, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv_pw(x)
        return self.conv_pwl(self.conv_dw(hidden)) + hidden[:, :16]


def test_a_network_whose_named_layers_are_not_free_is_refused():
    from detector.errors import KestrelError

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.Sequential())
    model[1].add_module("block", _NotFree())
    with pytest.raises(KestrelError, match="changed what the network computes"):
        permute(model)
