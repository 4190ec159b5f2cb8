"""Learned 2:4 masks (SR-STE): the forward runs on the masks of the dense weights of that step, the gradient reaches
every dense weight, the pruned ones decay, and the masks freeze at the end of the phase and survive resume."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from torch import nn  # noqa: E402

from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.config import SparsityConfig, TrainConfig, from_dict  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.pruning import PruningSteps  # noqa: E402
from trainer.sparsity import is_eligible, mask_2_of_4  # noqa: E402
from trainer.typed_config import ConfigError  # noqa: E402


class _Steps(PruningSteps):
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = model
        self.cfg = SimpleNamespace(sparsity=SparsityConfig(enabled=True, srste_epochs=1, srste_decay=decay))


def test_the_forward_sees_the_masks_and_the_dense_weights_return_with_a_decay_on_the_pruned_ones():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(16, 8, 3))
    dense = model[0].weight.detach().clone()
    steps = _Steps(model, decay=0.1)
    held = steps._mask_for_forward()
    mask = mask_2_of_4(dense)
    assert torch.equal(model[0].weight.detach(), dense * mask)  # the forward runs on the 2:4 weights
    model[0].weight.grad = torch.ones_like(dense)
    steps._back_to_dense(held, grad_scale=2.0)
    assert torch.equal(model[0].weight.detach(), dense)  # the dense weights are back...
    grad = model[0].weight.grad
    assert torch.equal(grad[mask], torch.ones_like(grad[mask]))  # ...kept ones take the gradient as it is
    assert torch.allclose(grad[~mask], 1.0 + 0.2 * dense[~mask])  # pruned ones also decay (scaled like the loss)


def _eligible(trainer: Trainer) -> dict[str, nn.Module]:
    return {n: m for n, m in trainer.model.named_modules() if is_eligible(m)}


def test_while_masks_are_learned_every_weight_trains_and_masks_can_change(tmp_path):
    data = tiny_config(tmp_path, epochs=4, lr=0.02)
    data["sparsity"] = {"enabled": True, "srste_epochs": 4}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    layers = _eligible(trainer)
    start = {n: m.weight.detach().clone() for n, m in layers.items()}
    trainer.run_epoch()
    assert not trainer.masks  # still learning
    changed_pruned = swapped = 0
    for name, layer in layers.items():
        weight, first = layer.weight.detach(), mask_2_of_4(start[name])
        assert (weight != 0).float().mean() > 0.99  # the trained weights stay dense
        changed_pruned += int((weight[~first] != start[name][~first]).sum())
        swapped += int((mask_2_of_4(weight) != first).sum())
    assert changed_pruned > 0  # the straight-through gradient reached weights the first masks pruned
    assert swapped > 0  # and some of them grew back into the masks
    deployed = [m.weight.detach() for m in trainer.deploy_model().modules() if is_eligible(m)]
    assert len(deployed) == len(layers)
    for weight in deployed:  # evaluation sees the 2:4 model of this moment: at most 2 of every 4 are left
        assert (weight == 0).float().mean() >= 0.5 and not (weight[~mask_2_of_4(weight)] != 0).any()


def test_the_masks_freeze_at_the_end_of_the_phase_and_a_resumed_run_reuses_them(tmp_path):
    data = tiny_config(tmp_path, epochs=2)
    data["sparsity"] = {"enabled": True, "srste_epochs": 1}
    cfg = from_dict(TrainConfig, data)
    trainer = Trainer(cfg, progress=False)
    trainer.fit()
    layers = _eligible(trainer)
    assert sorted(trainer.masks) == sorted(layers) and (trainer.out / "masks.safetensors").exists()
    ema = dict(trainer.ema.ema.named_modules())
    for name, mask in trainer.masks.items():
        assert mask.float().mean() == 0.5
        assert (layers[name].weight[~mask] == 0).all() and (ema[name].weight[~mask] == 0).all()
    resumed = Trainer(cfg, progress=False)
    for name, mask in trainer.masks.items():
        assert torch.equal(resumed.masks[name].cpu(), mask.cpu()), name


def test_learned_masks_exclude_the_other_ways_and_must_end_within_the_run():
    with pytest.raises(ConfigError, match="exclude each other"):
        from_dict(TrainConfig, {"sparsity": {"enabled": True, "srste_epochs": 2, "fade_epochs": 2}})
    with pytest.raises(ConfigError, match="srste_epochs .* exceeds optim.epochs"):
        from_dict(TrainConfig, {"optim": {"epochs": 3}, "sparsity": {"enabled": True, "srste_epochs": 4}})


def test_a_stop_in_the_middle_of_a_step_leaves_the_dense_weights_to_be_saved(tmp_path):
    from trainer.loop import collate

    data = tiny_config(tmp_path, epochs=4)
    data["sparsity"] = {"enabled": True, "srste_epochs": 4}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    before = {n: m.weight.detach().clone() for n, m in _eligible(trainer).items()}

    def stop(*_):
        raise KeyboardInterrupt  # as SIGTERM arrives: between the masked forward and the restore

    trainer.model.register_forward_hook(stop)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_step(*collate([trainer.dataset[i] for i in range(2)]))
    for name, layer in _eligible(trainer).items():
        assert torch.equal(layer.weight.detach(), before[name]), name
