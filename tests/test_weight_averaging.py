"""Weight averaging (optim.average_from): the shipped weights are the mean of the epoch-end weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from safetensors.torch import load_file  # noqa: E402
from torch import nn  # noqa: E402

from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.averaging import WeightAverage  # noqa: E402
from trainer.config import TrainConfig, from_dict  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.sparsity import is_eligible  # noqa: E402
from trainer.typed_config import ConfigError  # noqa: E402


def test_the_average_is_the_exact_mean_of_what_was_folded():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    average = WeightAverage(net)
    seen = []
    for _ in range(3):
        for p in net.parameters():
            p.data.normal_()
        net[1].running_mean.normal_()
        seen.append({k: v.clone() for k, v in net.state_dict().items()})
        average.fold(net)
    assert average.count == 3
    for key, value in average.model.state_dict().items():
        if value.dtype.is_floating_point:
            assert torch.allclose(value, sum(s[key] for s in seen) / 3, atol=1e-6), key


def test_the_trainer_ships_the_average_of_its_epoch_ends_keeps_2of4_and_resumes_it(tmp_path):
    data = tiny_config(tmp_path, epochs=3, average_from=2)
    data["sparsity"] = {"enabled": True}
    cfg = from_dict(TrainConfig, data)
    trainer = Trainer(cfg, progress=False)
    folded: list[dict[str, torch.Tensor]] = []
    fold = trainer.average.fold

    def recording_fold(model: nn.Module) -> None:
        folded.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        fold(model)

    trainer.average.fold = recording_fold
    trainer.fit()
    assert len(folded) == 2 and trainer.average.count == 2  # the ends of epochs 2 and 3
    assert not torch.equal(folded[0]["head.gfl_cls.0.weight"], folded[1]["head.gfl_cls.0.weight"])
    shipped = load_file(str(trainer.out / "model.safetensors"))
    for key, value in shipped.items():
        if value.dtype.is_floating_point:
            assert torch.allclose(value, (folded[0][key] + folded[1][key]) / 2, atol=1e-6), key
    modules = dict(trainer.average.model.named_modules())
    for name, mask in trainer.masks.items():
        assert is_eligible(modules[name]) and (modules[name].weight[~mask.to(modules[name].weight.device)] == 0).all()
    resumed = Trainer(cfg, progress=False)
    assert resumed.average.count == 2
    for key, value in resumed.deploy_model().state_dict().items():
        assert torch.equal(value.cpu(), shipped[key]), key


def test_average_from_must_lie_inside_the_run(tmp_path):
    with pytest.raises(ConfigError, match="average_from"):
        from_dict(TrainConfig, {"optim": {"epochs": 3, "average_from": 4}})
