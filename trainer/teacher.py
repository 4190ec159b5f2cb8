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
import torch.nn.functional as F

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
        self.feature_levels: list[int] = []  # teacher neck levels matching the student's, when imitated
        self.feature_at: str = "neck"

    def bind(self, strides: tuple[int, ...], center_offset: float, reg_max: int, num_classes: int,
             feature_channels: int | None = None, feature_at: str = "neck") -> None:  # fmt: skip
        """Check the teacher fits the student and pick the teacher levels that match.

        ``feature_channels``: the student's neck width, when its neck is to imitate the teacher's;
        ``feature_at``: "neck" (outputs) or "neck_input" (the reduced backbone maps).
        """
        t = self.layout
        problems = []
        if feature_channels is not None:
            if self.model is None:
                problems.append("feature imitation needs a torch teacher (.param or .ckpt), not a package")
            elif self.model.fpn.out_channels != feature_channels:
                problems.append(f"neck widths differ (student {feature_channels}, "
                                f"teacher {self.model.fpn.out_channels})")  # fmt: skip
            elif feature_at == "neck_input" and not hasattr(self.model.fpn, "reduce"):
                problems.append("the teacher's neck has no separate input stage (neck_input needs a Ghost-PAN)")
            self.feature_at = feature_at
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
        if feature_channels is not None:
            self.feature_levels = [t.strides.index(s) for s in strides]

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 BGR images (B, H, W, 3) -> (B, P_student, C + 4*(reg_max+1)): probabilities, bin logits."""
        return self.run(images)[0]

    @torch.no_grad()
    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Outputs as ``__call__``, and the neck maps at the student's strides when feature imitation is on."""
        x = (images.to(self.device).permute(0, 3, 1, 2).float() - self.mean) / self.std
        feats = None
        if self.session is not None:
            out = torch.from_numpy(self.session.infer(x.cpu().numpy())).to(self.device)
        else:
            out, all_feats = self.model(x, with_features=self.feature_at)
            out = out.float()
            c = self.layout.num_classes
            out = torch.cat([out[..., :c].sigmoid(), out[..., c:]], dim=-1)
            if self.feature_levels:
                feats = [all_feats[i].float() for i in self.feature_levels]
        return torch.cat([out[:, sl] for sl in self.level_slices], dim=1), feats


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Each (image, channel) map to zero mean and unit variance over its positions."""
    flat = x.float().flatten(2)
    return (flat - flat.mean(dim=2, keepdim=True)) / (flat.std(dim=2, keepdim=True, correction=0) + 1e-6)


def feature_imitation_loss(student: list[torch.Tensor], teacher: list[torch.Tensor], kind: str = "pearson"):
    """Mean over levels of a feature distance.

    ``pearson``: MSE between the standardised maps, i.e. 2 * (1 - Pearson correlation) per channel (PKD,
    Cao et al. 2022): the student copies where the teacher's channels fire, not their scale, so necks of
    different magnitudes (a linear PAN vs a Ghost-PAN) can be compared. 0 = identical, 2 = unrelated.
    ``mse``: MSE of the maps themselves over the teacher maps' mean square (1 = a student at zero).
    """
    if kind == "mse":
        pairs = zip(student, teacher, strict=True)
        terms = [F.mse_loss(s.float(), t) / t.pow(2).mean().clamp(min=1e-6) for s, t in pairs]
    else:
        terms = [F.mse_loss(_standardise(s), _standardise(t)) for s, t in zip(student, teacher, strict=True)]
    return torch.stack(terms).mean()


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
