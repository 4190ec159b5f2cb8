"""2:4 pruning by layer-wise reconstruction: masks, exact solves, and what it buys over magnitude masks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from torch import nn  # noqa: E402

from detector.errors import KestrelError  # noqa: E402
from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.config import TrainConfig, from_dict  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.reconstruct import forward_order, prune_and_reconstruct  # noqa: E402
from trainer.sparsity import apply_masks, compute_masks, is_eligible  # noqa: E402


def two_layer_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 16, 1), nn.ReLU(),
                         nn.Conv2d(16, 8, 1, bias=False))  # fmt: skip


def calibration(n: int = 4, channels: int = 16, seed: int = 1) -> list[torch.Tensor]:
    """Correlated inputs of unequal energy, as real feature maps are: 16 channels mixed from 6 factors."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(channels, 6, generator=torch.Generator().manual_seed(7))
    scale = torch.linspace(0.1, 3.0, channels).view(1, -1, 1, 1)
    out = []
    for _ in range(n):
        z = torch.randn(8, 6, 12, 12, generator=g)
        noise = 0.05 * torch.randn(8, channels, 12, 12, generator=g)
        out.append((torch.einsum("ck,bkhw->bchw", mix, z) + noise) * scale)
    return out


def assert_2_of_4(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        groups = mask.movedim(1, -1).reshape(-1, 4)
        assert (groups.sum(1) == 2).all(), name
        assert (modules[name].weight[~mask] == 0).all(), name


def test_a_layer_already_2_of_4_is_left_as_it_is():
    layer = nn.Sequential(nn.Conv2d(16, 8, 1))
    with torch.no_grad():
        layer[0].weight.mul_(compute_masks(layer)["0"])
    before = layer[0].weight.detach().clone(), layer[0].bias.detach().clone()
    masks = prune_and_reconstruct(layer, calibration(), dampening=1e-9)
    assert torch.equal(masks["0"], before[0] != 0)
    assert torch.allclose(layer[0].weight, before[0], atol=1e-4)
    assert torch.allclose(layer[0].bias, before[1], atol=1e-4)


def test_the_mask_weighs_magnitude_by_input_energy():
    layer = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False))
    with torch.no_grad():
        layer[0].weight.fill_(1.0)
        layer[0].weight[:, 0::4] = 1.5  # largest weights on the weakest input of every group
    batches = [torch.randn(8, 16, 6, 6) * torch.tensor([0.01, 1.0, 2.0, 3.0] * 4).view(1, -1, 1, 1)]
    masks = prune_and_reconstruct(layer, batches)
    kept = masks["0"][0, :, 0, 0].tolist()
    assert kept[:4] == [False, False, True, True]  # magnitude alone would keep input 0


def test_reconstruction_beats_magnitude_masks_on_the_output():
    dense, x = two_layer_net().eval(), calibration()
    held_out = calibration(1, seed=2)[0]
    with torch.no_grad():
        want = dense(held_out)
    magnitude = two_layer_net()
    apply_masks(magnitude, compute_masks(magnitude))
    rebuilt = two_layer_net()
    masks = prune_and_reconstruct(rebuilt, x)
    assert sorted(masks) == ["0", "2", "4"]
    assert_2_of_4(rebuilt, masks)
    with torch.no_grad():
        err_mag = (magnitude(held_out) - want).pow(2).mean()
        err_rec = (rebuilt(held_out) - want).pow(2).mean()
    assert err_rec < 0.5 * err_mag


def test_layers_are_pruned_in_the_order_the_forward_pass_runs_them():
    class Reversed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.late, self.early = nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 1)

        def forward(self, x):
            return self.late(self.early(x))

    assert forward_order(Reversed(), torch.zeros(1, 16, 4, 4), ["late", "early"]) == ["early", "late"]


def test_the_trainer_reconstructs_once_and_a_resumed_run_reuses_the_masks(tmp_path):
    data = tiny_config(tmp_path, epochs=1)
    data["sparsity"] = {"enabled": True, "reconstruct_images": 8, "skip": ["head"]}
    cfg = from_dict(TrainConfig, data)
    first = Trainer(cfg, progress=False)
    eligible = [n for n, m in first.model.named_modules() if is_eligible(m) and not n.startswith("head")]
    assert sorted(first.masks) == sorted(eligible)
    assert_2_of_4(first.model, first.masks)
    assert (first.out / "masks.safetensors").exists()
    first.fit()
    resumed = Trainer(cfg, progress=False)  # resumes from last: the masks come from the file, not the weights
    for name, mask in first.masks.items():
        assert torch.equal(resumed.masks[name].cpu(), mask.cpu()), name
    (first.out / "masks.safetensors").unlink()
    with pytest.raises(KestrelError, match="cannot resume without its masks"):
        Trainer(cfg, progress=False)

