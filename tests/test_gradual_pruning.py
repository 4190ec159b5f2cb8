"""Gradual 2:4 pruning: pruned weights fade to zero over a schedule, then the masks freeze and survive resume."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from torch import nn  # noqa: E402

from detector.errors import KestrelError  # noqa: E402
from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.config import TrainConfig, from_dict  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.sparsity import fade_factor, fade_pruned, is_eligible, mask_2_of_4  # noqa: E402
from trainer.typed_config import ConfigError  # noqa: E402


def test_fade_factors_multiply_to_a_linear_fade_that_ends_at_exactly_zero():
    steps, product = 7, 1.0
    for step in range(1, steps + 1):
        product *= fade_factor(step, steps)
        assert math.isclose(product, 1 - step / steps, abs_tol=1e-12)
    assert product == 0.0 and fade_factor(steps + 3, steps) == 0.0


def test_fade_scales_only_the_weights_outside_the_current_magnitude_mask():
    torch.manual_seed(0)
    layer = nn.Sequential(nn.Conv2d(16, 8, 3))
    before = layer[0].weight.detach().clone()
    masks = fade_pruned(layer, 0.25)
    assert torch.equal(masks["0"], mask_2_of_4(before))
    after = layer[0].weight.detach()
    assert torch.equal(after[masks["0"]], before[masks["0"]])
    assert torch.allclose(after[~masks["0"]], 0.25 * before[~masks["0"]])


def test_the_trainer_fades_then_freezes_masks_that_a_resumed_run_reuses(tmp_path):
    data = tiny_config(tmp_path, epochs=2)
    data["sparsity"] = {"enabled": True, "fade_epochs": 1}
    cfg = from_dict(TrainConfig, data)
    trainer = Trainer(cfg, progress=False)
    eligible = [n for n, m in trainer.model.named_modules() if is_eligible(m)]
    assert not trainer.masks  # nothing is cut before the first step
    modules = dict(trainer.model.named_modules())
    assert all((modules[n].weight != 0).float().mean() > 0.99 for n in eligible)
    trainer.fit()
    assert sorted(trainer.masks) == sorted(eligible) and (trainer.out / "masks.safetensors").exists()
    ema_modules = dict(trainer.ema.ema.named_modules())
    for name, mask in trainer.masks.items():
        assert mask.float().mean() == 0.5
        assert (modules[name].weight[~mask] == 0).all() and (ema_modules[name].weight[~mask] == 0).all()
    resumed = Trainer(cfg, progress=False)  # at the end of the run: the masks come from the file
    for name, mask in trainer.masks.items():
        assert torch.equal(resumed.masks[name].cpu(), mask.cpu()), name
    (trainer.out / "masks.safetensors").unlink()
    with pytest.raises(KestrelError, match="cannot resume without its masks"):
        Trainer(cfg, progress=False)


def test_a_fade_half_way_leaves_the_pruned_weights_smaller_but_not_cut(tmp_path):
    data = tiny_config(tmp_path, epochs=4, lr=0.0)
    data["sparsity"] = {"enabled": True, "fade_epochs": 2}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    name = next(n for n, m in trainer.model.named_modules() if is_eligible(m))
    weight = dict(trainer.model.named_modules())[name].weight
    start = weight.detach().clone()
    trainer.run_epoch()  # one of two fade epochs, with no learning: exactly half faded
    mask = mask_2_of_4(start)
    assert not trainer.masks
    assert torch.equal(weight.detach()[mask], start[mask])
    assert torch.allclose(weight.detach()[~mask], 0.5 * start[~mask], atol=1e-7)


def test_a_fade_with_reconstruction_or_longer_than_the_run_is_refused():
    with pytest.raises(ConfigError, match="exclude each other"):
        from_dict(TrainConfig, {"sparsity": {"enabled": True, "fade_epochs": 2, "reconstruct_images": 8}})
    with pytest.raises(ConfigError, match="fade_epochs .* exceeds optim.epochs"):
        from_dict(TrainConfig, {"optim": {"epochs": 3}, "sparsity": {"enabled": True, "fade_epochs": 4}})
