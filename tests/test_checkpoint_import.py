"""PyTorch checkpoint import: parity with the torch model, and safe loading (tensors only)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="checkpoint import needs torch (train extra)")

from detector.detector import Detector  # noqa: E402
from detector.errors import ModelImportError  # noqa: E402
from detector.images import read_image  # noqa: E402
from detector.models.checkpoint import load_tensors, nanodet_state_dict  # noqa: E402
from detector.models.import_checkpoint import load_nanodet_checkpoint  # noqa: E402
from detector.preprocess import Preprocessor  # noqa: E402
from tests.conftest import need_shared  # noqa: E402


def test_exported_package_matches_the_torch_model(m320, tiny_val_images):
    model = load_nanodet_checkpoint(need_shared("weights", "nanodet", "nanodet-m_320.ckpt"))
    det = Detector.load(m320)
    pre = Preprocessor(det.meta)
    c = det.meta.num_classes
    for path in tiny_val_images[:4]:
        x, _ = pre(read_image(path))
        ours = det.backend.infer(x[None])[0]
        with torch.no_grad():
            raw = model(torch.from_numpy(x[None]))[0].numpy()
        assert np.abs(ours[:, :c] - 1 / (1 + np.exp(-raw[:, :c]))).max() <= 2e-3
        assert np.abs(ours[:, c:] - raw[:, c:]).max() <= 1e-2  # bin logits; boxes checked via mAP


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_a_checkpoint_with_pickled_code_is_refused(tmp_path):
    bad = tmp_path / "evil.ckpt"
    with open(bad, "wb") as f:
        pickle.dump({"state_dict": {"w": Exploit()}}, f)
    with pytest.raises(ModelImportError, match="pickled objects other than tensors"):
        load_tensors(bad)


def test_plain_state_dicts_lightning_prefixes_and_safetensors_load(tmp_path):
    from safetensors.torch import save_file

    sd = {
        "model.backbone.w": torch.ones(2),
        "avg_model.backbone.w": torch.zeros(2),
        "model.head.gfl_reg.0.w": torch.ones(1),
    }
    torch.save(sd, tmp_path / "plain.pth")
    cleaned = nanodet_state_dict(load_tensors(tmp_path / "plain.pth"))
    assert list(cleaned) == ["backbone.w"] and cleaned["backbone.w"].sum() == 0  # EMA copy preferred
    save_file({"a": torch.arange(3.0)}, tmp_path / "w.safetensors")
    assert load_tensors(tmp_path / "w.safetensors")["a"].tolist() == [0, 1, 2]


def test_non_checkpoints_and_mismatched_weights_are_refused(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelImportError, match="not a readable PyTorch checkpoint"):
        load_tensors(junk)
    torch.save({"fpn.lateral_convs.0.conv.weight": torch.zeros(1), "x.y": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ModelImportError, match="does not fit nanodet-m"):
        load_nanodet_checkpoint(tmp_path / "wrong.pth")
    torch.save({"state_dict": {"x": 3}}, tmp_path / "notensor.pth")
    with pytest.raises(ModelImportError, match="not tensors"):
        load_tensors(tmp_path / "notensor.pth")
