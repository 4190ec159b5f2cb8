"""The backend interface: a batch of network inputs in, the package's raw output out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..package import PackageMeta


class Backend(ABC):
    """Runs one model package. Subclasses read the package at ``path`` and expose its metadata."""

    name: str = "base"

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def available(cls) -> bool:
        """Whether this backend can run on this machine (imports work, device present)."""
        return True

    @property
    @abstractmethod
    def meta(self) -> PackageMeta:
        """The package metadata this backend was built from."""

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """[N, 3, H, W] float32 -> [N, P, D] float32 as the package's output layout says."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to release
        """Release device resources; the default holds none."""
