"""The training recipe as typed config sections (YOLOX-style: one object gathers the recipe).

A YAML file fills it; ``key=value`` overrides adjust it; every field is validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from detector.models.config import ModelConfig

from .criterion import LossConfig
from .data.pipeline import AugmentConfig
from .typed_config import ConfigError, apply_overrides, from_dict, load_yaml, merge_sections


@dataclass(frozen=True)
class DatasetConfig:
    type: Literal["coco", "yolo", "images", "video"] = "coco"
    annotations: str = ""  # coco: the JSON
    images: str = ""  # image folder
    labels: str = ""  # yolo: label folder
    video: str = ""  # video: the clip
    frames: int = 100  # video: how many frames, spread evenly over the clip
    limit: int = 0  # use only the first N images (0 = all)
    repeat: int = 1  # each epoch sees this set N times (oversampling a small set among large ones)
    # The classes this set's labels cover (empty: all of them). Objects of other classes may be in the images
    # unboxed: for those classes the loss takes the teacher's soft targets, never a "background" from a
    # missing label (needs distill.teacher).
    classes: tuple[str, ...] = ()
    name: str = ""  # how reports name this set (val: the metrics of a second set are NAME/mAP, ...)


@dataclass(frozen=True)
class DataConfig:
    train: list[DatasetConfig] = field(default_factory=list)
    # COCO sets evaluated during training: one, or a list (the first one's mAP picks "best"; every set is
    # reported, the others under their ``name``).
    val: DatasetConfig | list[DatasetConfig] | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    workers: int = 2


    def val_sets(self) -> list[DatasetConfig]:
        if self.val is None:
            return []
        return list(self.val) if isinstance(self.val, list) else [self.val]


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 100
    batch_size: int = 16
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.07
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_steps: int = 500
    warmup_ratio: float = 0.01
    schedule: Literal["cosine", "multistep"] = "cosine"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    min_lr_ratio: float = 0.05
    grad_clip: float = 35.0
    ema_decay: float = 0.9998  # 0 disables EMA
    amp: Literal["none", "fp16", "bf16"] = "none"
    seed: int = 0
    device: str = "auto"
    # BatchNorm layers keep their running statistics (eval mode) while the rest trains: small batches of
    # heavily augmented images would otherwise drag ImageNet statistics somewhere else.
    freeze_bn: bool = False
    # Weight averaging (trainer/averaging.py): from the end of this epoch on (1-based), the shipped weights are
    # the mean of the (EMA) weights at the end of every epoch. 0: off. Pair with a flat schedule
    # (``schedule: multistep`` without milestones).
    average_from: int = 0

    def __post_init__(self) -> None:
        problems = [f"{name} must be at least 1, got {getattr(self, name)}"
                    for name in ("epochs", "batch_size") if getattr(self, name) < 1]  # fmt: skip
        problems += [f"{name} must be >= 0, got {getattr(self, name)}"
                     for name in ("lr", "weight_decay", "warmup_steps", "grad_clip", "ema_decay")
                     if not getattr(self, name) >= 0]  # fmt: skip
        if not self.ema_decay < 1:
            problems.append(f"ema_decay must be below 1, got {self.ema_decay}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class EvalConfig:
    every: int = 1  # epochs between COCO evaluations (0: only at the end)
    # "best": export the checkpoint with the best val mAP; "last": export the final weights, val is only
    # reported (use it when val must not steer training, e.g. a test split).
    keep: Literal["best", "last"] = "best"
    conf: float = 0.05
    iou: float = 0.6


@dataclass(frozen=True)
class DistillConfig:
    teacher: str = ""  # a model package (.onnx), an ncnn .param, or a NanoDet checkpoint
    weight: float = 0.25
    temperature: float = 10.0
    pseudo_threshold: float = 0.35  # unlabeled images ('images', 'video') get the teacher's boxes above this
    # Dense distillation of the class scores: every point's scores pulled towards the teacher's
    # probabilities (soft QFL). 0 disables; the student then learns classes from labels alone.
    cls_weight: float = 0.0
    # Neck feature imitation: the student's neck maps pulled towards the teacher's at the same strides
    # (MSE normalised by the teacher maps' energy). Needs a torch teacher (.param/.ckpt) whose neck has
    # the student's channel count. 0 disables.
    feature_weight: float = 0.0
    # "pearson": standardised maps (scale-free); "mse": the maps themselves, normalised by the teacher's energy
    # (what a transplanted head needs: it expects the teacher's scale).
    feature_loss: Literal["pearson", "mse"] = "pearson"
    # Start the student's head from the teacher's at the shared strides (needs the same head shape, norm off)
    # and scale a linear PAN to the teacher's feature RMS.
    init_head: bool = False
    # Where the features are compared: the neck's outputs, or its inputs at the neck's width ("neck_input":
    # the teacher's reduced backbone maps; for a student that takes the teacher's neck with init_neck).
    feature_at: Literal["neck", "neck_input"] = "neck"
    # Start the student's Ghost-PAN (all but its backbone-specific reduce layers) from the teacher's.
    init_neck: bool = False
    # Keep what was taken from the teacher frozen for this many steps, while the new parts catch up.
    freeze_steps: int = 0
    # With init_neck: solve the student's reduce layers in closed form (ridge regression onto the teacher's
    # reduced maps) on this many training images, un-augmented, before training. 0: scale them instead.
    fit_images: int = 0
    # Learning-rate multiplier for the parts taken from the teacher and the layers fitted to them (they
    # start trained). freeze_steps holds the same parts still. With sparsity.init the weights already hold
    # those parts (a later stage of the same recipe): nothing is taken again, the multiplier still applies.
    taken_lr_scale: float = 1.0


@dataclass(frozen=True)
class SparsityConfig:
    enabled: bool = False  # 2:4 masks from the initial (dense, converged) weights, kept fixed
    init: str = ""  # dense weights to start from: a run's model.safetensors or a model package (.onnx)
    skip: tuple[str, ...] = ()  # layer-name prefixes left dense (e.g. "backbone.body.blocks.0")
    # reorder the input channels of the layers that allow it (trainer/permutation.py) before the magnitude masks
    # are cut, so they keep more weight; the network computes the same
    permute: bool = False
    # >0: choose the masks and re-solve the kept weights layer by layer so each pruned layer reproduces the
    # dense one on this many training images (trainer/reconstruct.py); 0: plain magnitude masks.
    reconstruct_images: int = 0
    # >0: prune gradually: the weights outside the 2:4 magnitude masks (recomputed every step) fade linearly
    # to zero over this many epochs, then the masks freeze; 0: masks cut at once before the first step.
    fade_epochs: float = 0.0
    # >0: learn the masks (SR-STE, Zhou et al. 2021): for this many epochs every step's forward runs on the 2:4
    # magnitude masks of the dense weights, recomputed each step; the gradient reaches every dense weight
    # (straight-through) and the pruned ones also decay by srste_decay x weight; then the masks freeze.
    srste_epochs: float = 0.0
    srste_decay: float = 2e-4

    def __post_init__(self) -> None:
        if self.fade_epochs < 0 or self.srste_epochs < 0 or self.srste_decay < 0:
            raise ValueError("fade_epochs, srste_epochs and srste_decay must be >= 0")
        if self.permute and (self.reconstruct_images or self.dynamic_epochs()):
            raise ValueError("permute orders channels for masks cut once by magnitude; it excludes "
                             "reconstruct_images, fade_epochs and srste_epochs")
        chosen = [k for k in ("fade_epochs", "srste_epochs", "reconstruct_images") if getattr(self, k)]
        if len(chosen) > 1:
            raise ValueError(f"{' and '.join(chosen)} exclude each other (one way to choose the masks)")

    def dynamic_epochs(self) -> float:
        """Epochs before the masks freeze (a fade or learned masks); 0 when they are cut at the start."""
        return self.fade_epochs or self.srste_epochs


@dataclass(frozen=True)
class TrainConfig:
    name: str = "run"
    model: ModelConfig | str = "kestrel-lite0-320-relu6-gflv1"
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    sparsity: SparsityConfig = field(default_factory=SparsityConfig)
    output: str = "runs"
    resume: bool = True  # continue from <output>/<name>/last if it exists

    def __post_init__(self) -> None:
        if not 0 <= self.optim.average_from <= self.optim.epochs:
            raise ValueError(f"optim.average_from ({self.optim.average_from}) must lie in 0..optim.epochs "
                             f"({self.optim.epochs})")
        if self.sparsity.enabled and self.sparsity.dynamic_epochs() > self.optim.epochs:
            key = "fade_epochs" if self.sparsity.fade_epochs else "srste_epochs"
            raise ValueError(f"sparsity.{key} ({self.sparsity.dynamic_epochs()}) exceeds optim.epochs "
                             f"({self.optim.epochs}): the run would end before its 2:4 masks are complete")

    def model_config(self) -> ModelConfig:
        from detector.models.build import ARCHITECTURES

        if isinstance(self.model, ModelConfig):
            return self.model
        if self.model not in ARCHITECTURES:
            raise ConfigError(f"model: unknown architecture '{self.model}' (known: {', '.join(ARCHITECTURES)})")
        return ARCHITECTURES[self.model]


def load_config(path: str, overrides: list[str] | None = None) -> TrainConfig:
    data = apply_overrides(load_yaml(path), overrides or [])
    if isinstance(data.get("model"), dict) and "base" in data["model"]:
        data["model"] = _merge_base(data["model"])
    return from_dict(TrainConfig, data)


def _merge_base(model: dict) -> dict:
    """``model: {base: NAME, head: {dgqp: true}}`` -> the named architecture with those fields changed."""
    import dataclasses

    from detector.models.build import ARCHITECTURES

    base_name = model.pop("base")
    if base_name not in ARCHITECTURES:
        raise ConfigError(f"model.base: unknown architecture '{base_name}'")
    return merge_sections(dataclasses.asdict(ARCHITECTURES[base_name]), model)
