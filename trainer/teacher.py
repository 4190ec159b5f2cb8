"""Teachers for localization distillation and pseudo-labels.

A teacher is a NanoDet checkpoint, an ncnn model (loaded into the torch NanoDet-Plus-m), our own
torch model, or a model package run by ONNX Runtime. Its output is brought onto the student's points:
the student's strides must be a subset of the teacher's, with the same centre offset and the same
reg_max — then the matching levels are taken as they are. Anything else is refused with a clear
error: re-binning distributions or resampling points would distil something the teacher never said.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from detector.decode import GflDecoder
from detector.detections import Detections
from detector.errors import KestrelError
from detector.nms import batched_nms
from detector.package import PackageMeta


class Teacher:
    def __init__(self, source: str | Path, device: torch.device, input_size: int) -> None:
        source = Path(source)
        self.device, self.session, self.model = device, None, None
        if source.suffix == ".onnx":
            from detector.backends.onnxruntime_backend import OnnxRuntimeBackend

            self.session = OnnxRuntimeBackend(source)
            meta = self.session.meta
            if (meta.input_width, meta.input_height) != (input_size, input_size):
                raise KestrelError(
                    f"teacher package {source} takes {meta.input_width}x{meta.input_height}, the student "
                    f"{input_size}x{input_size}; use the teacher's .param/.ckpt, which run at any size"
                )
            self.layout = meta
        else:
            model = _load_torch_teacher(source, input_size)
            cfg = model.config
            self.model = model.to(device).eval()
            self.layout = PackageMeta(
                name=cfg.name, class_names=tuple(f"c{i}" for i in range(cfg.head.num_classes)),
                input_width=input_size, input_height=input_size, strides=cfg.head.strides,
                reg_max=cfg.head.reg_max, center_offset=cfg.center_offset, mean=cfg.mean, std=cfg.std,
            )  # fmt: skip
        self.mean = torch.tensor(self.layout.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.layout.std, device=device).view(1, 3, 1, 1)
        self.level_slices: list[slice] = []

    def bind(self, strides: tuple[int, ...], center_offset: float, reg_max: int, num_classes: int) -> None:
        """Check the teacher fits the student and pick the teacher levels that match."""
        t = self.layout
        problems = []
        if not set(strides) <= set(t.strides):
            problems.append(f"student strides {list(strides)} are not all among the teacher's {list(t.strides)}")
        if center_offset != t.center_offset:
            problems.append(f"centre offsets differ (student {center_offset}, teacher {t.center_offset})")
        if reg_max != t.reg_max:
            problems.append(f"reg_max differs (student {reg_max}, teacher {t.reg_max})")
        if num_classes != t.num_classes:
            problems.append(f"class counts differ (student {num_classes}, teacher {t.num_classes})")
        if problems:
            raise KestrelError("teacher does not fit the student: " + "; ".join(problems))
        start, slices = 0, {}
        for s in t.strides:
            n = (-(-t.input_width // s)) * (-(-t.input_height // s))
            slices[s] = slice(start, start + n)
            start += n
        self.level_slices = [slices[s] for s in strides]

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 BGR images (B, H, W, 3) -> (B, P_student, C + 4*(reg_max+1)): probabilities, bin logits."""
        x = (images.to(self.device).permute(0, 3, 1, 2).float() - self.mean) / self.std
        if self.session is not None:
            out = torch.from_numpy(self.session.infer(x.cpu().numpy())).to(self.device)
        else:
            out = self.model(x).float()
            c = self.layout.num_classes
            out = torch.cat([out[..., :c].sigmoid(), out[..., c:]], dim=-1)
        return torch.cat([out[:, sl] for sl in self.level_slices], dim=1)


def _load_torch_teacher(source: Path, input_size: int):
    if not source.exists():
        raise KestrelError(f"teacher not found: {source}")
    if source.suffix == ".param":
        from detector.models import build_model
        from detector.models.ncnn_weights import load_ncnn_into

        return load_ncnn_into(build_model("nanodet-plus-m"), source, input_size)
    if source.suffix in (".ckpt", ".pth", ".pt", ".safetensors"):
        from detector.models.import_checkpoint import load_nanodet_checkpoint

        return load_nanodet_checkpoint(source)
    raise KestrelError(f"don't know how to use {source} as a teacher (.onnx, .param, .ckpt, .pth)")


def pseudo_labels(outputs: torch.Tensor, layout: PackageMeta, threshold: float, iou: float = 0.6) -> list[Detections]:
    """Teacher detections per image (input pixels) above ``threshold``, after NMS."""
    decoder = GflDecoder(layout)
    result = []
    for raw in outputs.cpu().numpy():
        boxes, scores, classes = decoder(raw, threshold, 1000)
        keep = batched_nms(boxes, scores, classes, iou, 100)
        result.append(Detections(boxes[keep], scores[keep], classes[keep].astype(np.int32)))
    return result
