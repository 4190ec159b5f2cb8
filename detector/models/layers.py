"""Small building blocks shared by backbones, necks and heads."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = ("relu", "relu6", "leakyrelu", "silu", "mish", "hardswish")


def make_act(name: str | None) -> nn.Module:
    """An activation module by name (NanoDet's LeakyReLU uses slope 0.1)."""
    if name is None or name == "none":
        return nn.Identity()
    key = name.lower()
    table = {
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "leakyrelu": lambda: nn.LeakyReLU(0.1, inplace=True),
        "silu": lambda: nn.SiLU(inplace=True),
        "mish": lambda: nn.Mish(inplace=True),
        "hardswish": lambda: nn.Hardswish(inplace=True),
    }
    if key not in table:
        raise ValueError(f"unknown activation '{name}' (choose from {', '.join(ACTIVATIONS)})")
    return table[key]()


class ConvModule(nn.Module):
    """conv -> (BN) -> (act); parameter names follow NanoDet (``conv``, ``bn``) for checkpoints."""

    def __init__(
        self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, groups: int = 1,
        norm: bool = True, act: str | None = "leakyrelu",
    ) -> None:  # fmt: skip
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=not norm)
        self.bn = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.act = make_act(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class DepthwiseConvModule(nn.Module):
    """depthwise kxk -> BN -> act -> pointwise 1x1 -> BN -> act (NanoDet's names)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, act: str = "leakyrelu",
                 norm: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, k, stride, padding, groups=cin, bias=not norm)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=not norm)
        self.dwnorm = nn.BatchNorm2d(cin) if norm else nn.Identity()
        self.pwnorm = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.act = make_act(act)

    def forward(self, x):
        x = self.act(self.dwnorm(self.depthwise(x)))
        return self.act(self.pwnorm(self.pointwise(x)))
