"""A model package's weights read back into its network: the start of fine-tuning a shipped model."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnxruntime as ort
import pytest
import torch

pytest.importorskip("torch")

from detector.errors import KestrelError, ModelImportError  # noqa: E402
from detector.models import build_model  # noqa: E402
from detector.models.export import export_package, package_meta  # noqa: E402
from detector.models.package_weights import load_package_weights  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.trainer_fixtures import tiny_config  # noqa: E402
from trainer.config import TrainConfig, from_dict, load_config  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.sparsity import is_eligible, mask_2_of_4  # noqa: E402


def outputs(path, size: int) -> np.ndarray:
    x = np.random.default_rng(0).uniform(-2, 2, (2, 3, size, size)).astype(np.float32)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]


def recipe_model(name: str):
    mcfg = load_config(ROOT / "configs" / name).model_config()
    return build_model(dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False)))


@pytest.mark.parametrize("recipe, package", [("road-lite0-320-distill.yaml", "kestrel-lite0-320.onnx"),
                                             ("road-lite0-320-2of4.yaml", "kestrel-lite0-320-2of4.onnx")])
def test_a_shipped_package_loads_into_its_recipe_network_exactly(tmp_path, recipe, package):
    model = recipe_model(recipe)
    load_package_weights(model, ROOT / "assets" / package).eval()
    again = export_package(model, package_meta(model, 320), tmp_path / "again.onnx")
    shipped = outputs(ROOT / "assets" / package, 320)
    assert np.abs(outputs(again, 320) - shipped).max() < 1e-4
    if "2of4" in package:  # 2:4 comes back as it was: masking the loaded weights again changes nothing
        for name, module in model.named_modules():
            if is_eligible(module):
                assert torch.equal(module.weight * mask_2_of_4(module.weight), module.weight), name


def test_training_starts_from_a_package_and_reproduces_it(tmp_path):
    first = Trainer(from_dict(TrainConfig, tiny_config(tmp_path / "a", epochs=1)), progress=False)
    package = first.fit()
    data = tiny_config(tmp_path / "b", epochs=1)
    data["sparsity"] = {"init": str(package)}
    later = Trainer(from_dict(TrainConfig, data), progress=False)
    again = export_package(later.model, package_meta(later.model, 64), tmp_path / "again.onnx")
    assert np.abs(outputs(again, 64) - outputs(package, 64)).max() < 1e-4
    later.fit()  # and it trains on from there (BN frozen or live alike)


def test_a_package_of_another_network_or_a_damaged_file_is_refused(tmp_path):
    model = recipe_model("paper-g1-lite0-320.yaml")
    with pytest.raises(ModelImportError, match="does not fit this network"):
        load_package_weights(model, ROOT / "assets" / "kestrel-lite0-320.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes((ROOT / "assets" / "kestrel-lite0-320.onnx").read_bytes()[:5000])
    with pytest.raises(ModelImportError, match="not a readable ONNX model"):
        load_package_weights(model, broken)
    data = tiny_config(tmp_path, epochs=1)
    data["sparsity"] = {"init": str(tmp_path / "missing.onnx")}
    with pytest.raises(KestrelError, match="no such file"):
        Trainer(from_dict(TrainConfig, data), progress=False)
