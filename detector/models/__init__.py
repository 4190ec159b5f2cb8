"""PyTorch model definitions (backbones, necks, heads) — the training side of ``detector``.

Importing this package imports torch; the runtime (``detector`` proper) never does.
"""

from .build import ARCHITECTURES, build_model

__all__ = ["ARCHITECTURES", "build_model"]
