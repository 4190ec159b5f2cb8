"""A Backend over an in-memory torch detector: evaluation during training, and GPU runs without TensorRT."""

from __future__ import annotations

import numpy as np
import torch

from ..backends.base import Backend
from ..package import PackageMeta
from .build import OneStageDetector


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model: OneStageDetector, meta: PackageMeta, device: str | torch.device = "cpu",
                 half: bool = False) -> None:  # fmt: skip
        super().__init__(path=None)  # type: ignore[arg-type]
        self.model, self._meta, self.device, self.half = model, meta, torch.device(device), half
        self.num_classes = meta.num_classes

    @property
    def meta(self) -> PackageMeta:
        return self._meta

    @torch.no_grad()
    def infer(self, batch: np.ndarray) -> np.ndarray:
        was_training = self.model.training
        self.model.eval()
        x = torch.from_numpy(batch).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.half):
            raw = self.model(x).float()
        self.model.train(was_training)
        raw[..., : self.num_classes] = raw[..., : self.num_classes].sigmoid()
        return raw.cpu().numpy()

    def describe(self) -> str:
        return f"torch ({self.device}{', fp16' if self.half else ''})"
