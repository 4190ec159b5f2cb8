"""The training loop: AMP, EMA, gradient clipping, LD, 2:4 masks, COCO eval, checkpoints, exact resume.

Single process, or one process per device under ``torchrun`` (DDP; gloo on CPU, nccl on GPUs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from detector.detector import Detector
from detector.errors import KestrelError
from detector.models import build_model
from detector.models.export import export_package, package_meta
from detector.models.torch_backend import TorchBackend

from .averaging import WeightAverage
from .checkpointing import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .criterion import DistillWeights, GFLCriterion, Target
from .data.build import build_source
from .data.pipeline import AugmentedDataset, ConcatSource, TrainTransform
from .data.sample import Sample
from .ema import ModelEMA
from .optim import build_optimizer, lr_factor
from .pruning import PruningSteps
from .sparsity import apply_masks
from .teacher import Teacher, feature_imitation_loss, pseudo_labels


def collate(samples: list[Sample]) -> tuple[torch.Tensor, list[Target], torch.Tensor]:
    """uint8 BGR images (B, H, W, 3), targets, and which samples carry real labels."""
    images = torch.from_numpy(np.stack([s.image for s in samples]))
    targets = [
        Target(torch.from_numpy(s.boxes), torch.from_numpy(s.labels), torch.from_numpy(s.crowd), s.covered)
        for s in samples
    ]
    return images, targets, torch.tensor([s.labeled for s in samples])


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _quiet_worker(_worker_id: int) -> None:
    """Data workers leave Ctrl-C and SIGTERM to the main process, which saves and then ends them: a stop
    signal sent to the whole process group (a terminal's Ctrl-C, systemd, docker stop) must not kill a worker
    and turn the save into a DataLoader error. Workers start with the stop signals held (see
    `_workers_started`), so one that arrives before this runs is discarded here, not fatal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _workers_started(loader: DataLoader) -> Iterator:
    """The loader's iterator, its workers forked with the stop signals held: PyTorch's worker start-up
    installs a SIGTERM handler that dies on a signal from anyone but the parent, before `_quiet_worker`
    runs. The main process takes a signal that arrived meanwhile as soon as the mask is restored."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        return iter(loader)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Trainer(PruningSteps):
    def __init__(self, cfg: TrainConfig, progress: bool = True) -> None:
        self.cfg, self.progress = cfg, progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = pick_device(cfg.optim.device)
        if self.world > 1:
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        torch.manual_seed(cfg.optim.seed)
        self.mcfg = cfg.model_config()
        self.out = Path(cfg.output) / cfg.name
        self.model = build_model(self.mcfg).to(self.device)
        if cfg.sparsity.init:
            self._load_init(cfg.sparsity.init)
        self.class_names = package_meta(self.model, self.mcfg.input_size).class_names
        size = self.mcfg.input_size
        head = self.mcfg.head
        weights = DistillWeights(cfg.distill.weight, cfg.distill.temperature, cfg.distill.cls_weight)
        self.criterion = GFLCriterion(head.num_classes, head.reg_max, head.strides, self.mcfg.center_offset,
                                      size, size, cfg.loss, weights).to(self.device)  # fmt: skip
        if not cfg.data.train:
            raise KestrelError("data.train: no training datasets configured")
        sources = [build_source(d, self.class_names) for d in cfg.data.train]
        self.dataset = AugmentedDataset(ConcatSource(sources), TrainTransform(cfg.data.augment, size, size),
                                        cfg.optim.seed)  # fmt: skip
        self.mean = torch.tensor(self.mcfg.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.mcfg.std, device=self.device).view(1, 3, 1, 1)
        if cfg.sparsity.enabled and cfg.sparsity.permute:
            self._permute_channels()
        self.masks = self._sparsify() if cfg.sparsity.enabled and not cfg.sparsity.dynamic_epochs() else {}
        self.has_unlabeled = any(d.type in ("images", "video") for d in cfg.data.train)
        self.teacher = None
        if cfg.distill.teacher:
            self.teacher = Teacher(cfg.distill.teacher, self.device, size)
            width = self.mcfg.neck.out_channels if cfg.distill.feature_weight > 0 else None
            self.teacher.bind(head.strides, self.mcfg.center_offset, head.reg_max, head.num_classes, width,
                              cfg.distill.feature_at)  # fmt: skip
        elif self.has_unlabeled:
            raise KestrelError("unlabeled 'images'/'video' datasets need a teacher (distill.teacher) to label them")
        elif any(d.classes for d in cfg.data.train):
            raise KestrelError("partially labelled datasets ('classes:') need a teacher (distill.teacher) for the "
                               "classes their labels leave out")
        if cfg.distill.freeze_steps and self.world > 1:
            raise KestrelError("distill.freeze_steps works in a single process only (DDP fixes the trained set)")
        self.frozen: list[torch.nn.Parameter] = []
        if cfg.distill.init_head or cfg.distill.init_neck:
            from .transplant import transplanted_parameters

            if not (cfg.resume and (self.out / "last").exists()) and not cfg.sparsity.init:
                self._start_from_teacher()  # before the EMA copy and the optimizer; an init already holds them
            self.frozen = transplanted_parameters(self.model, cfg.distill.init_head, cfg.distill.init_neck,
                                                  fitted=cfg.distill.init_neck and cfg.distill.fit_images > 0)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model)
        self.optimizer = build_optimizer(self.model, cfg.optim, self.frozen, cfg.distill.taken_lr_scale)
        use_fp16 = cfg.optim.amp == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.optim.amp)
        self.ema = ModelEMA(self.model, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
        self.average = WeightAverage(self.model) if cfg.optim.average_from else None
        self.steps_per_epoch = len(self.dataset) // (cfg.optim.batch_size * self.world)
        if self.steps_per_epoch == 0:
            raise KestrelError(f"{len(self.dataset)} images do not fill one batch of {cfg.optim.batch_size}")
        self.epoch, self.step_in_epoch, self.global_step, self.best_map = 0, 0, 0, -1.0
        self.history: list[dict] = []
        self.writer = None
        if cfg.resume and (self.out / "last").exists():
            self.resume()
        if self._dynamic_over():  # resumed after a fade or learned masks: the masks are frozen
            self.masks = self._load_saved_masks("a run resumed after its 2:4 masks froze")

    def _load_init(self, path: str) -> None:
        """Start from trained weights: a run's ``model.safetensors`` or a model package (.onnx, BN folded)."""
        if not Path(path).is_file():
            raise KestrelError(f"sparsity.init: no such file {path}")
        if path.endswith(".onnx"):
            from detector.models.package_weights import load_package_weights

            load_package_weights(self.model, path)
            return
        from safetensors.torch import load_file

        self.model.load_state_dict(load_file(path))

    def _start_from_teacher(self) -> None:
        from .transplant import match_neck_scale, match_reduce_scale, transplant_head, transplant_neck

        d = self.cfg.distill
        if self.teacher is None or self.teacher.model is None:
            raise KestrelError("distill.init_head/init_neck need a torch teacher (.param or .ckpt)")
        said = []
        if d.init_neck:
            said.append(f"neck paths ({', '.join(transplant_neck(self.model, self.teacher.model))})")
        if d.init_head:
            said.append(f"head at strides {transplant_head(self.model, self.teacher.model)}")
        if d.feature_weight > 0:  # start the new features at the teacher's scale (what taken parts expect)
            self.dataset.set_epoch(0)
            images = collate([self.dataset[i] for i in range(min(8, len(self.dataset)))])[0]
            _, t_feats = self.teacher.run(images)
            x = (images.to(self.device).permute(0, 3, 1, 2).float() - self.mean) / self.std
            with torch.no_grad():
                _, s_feats = self.model(x, with_features=d.feature_at)
            if d.feature_at == "neck_input" and d.fit_images:
                r2 = self._fit_reduce_layers(d.fit_images)
                said.append("reduce layers solved in closed form, R^2 " + ", ".join(f"{v:.3f}" for v in r2))
            elif d.feature_at == "neck_input":
                factors = match_reduce_scale(self.model, s_feats, t_feats)
                said.append("reduce layers scaled by " + ", ".join(f"{f:.4f}" for f in factors))
            elif d.init_head:
                said.append(f"neck scaled by {match_neck_scale(self.model, s_feats, t_feats):.4f}")
        if self.is_main:
            print(f"taken from the teacher: {'; '.join(said)}", file=sys.stderr)

    def _plain_images(self, count: int) -> list[torch.Tensor]:
        """``count`` training images, un-augmented, in uint8 batches of 16 (a seeded choice)."""
        from .data.pipeline import AugmentedDataset, EvalTransform

        size = self.mcfg.input_size
        plain = AugmentedDataset(self.dataset.source, EvalTransform(size, size), self.cfg.optim.seed)
        order = torch.randperm(len(plain), generator=torch.Generator().manual_seed(self.cfg.optim.seed))[:count]
        return [collate([plain[int(i)] for i in order[s : s + 16]])[0] for s in range(0, len(order), 16)]

    @torch.no_grad()
    def _fit_reduce_layers(self, count: int) -> list[float]:
        from .transplant import fit_reduce_layers

        levels = len(self.model.fpn.reduce_layers)
        backbone_maps, teacher_maps = [[] for _ in range(levels)], [[] for _ in range(levels)]
        for images in self._plain_images(count):
            _, reduced = self.teacher.run(images)
            x = (images.to(self.device).permute(0, 3, 1, 2).float() - self.mean) / self.std
            for level, (b, t) in enumerate(zip(self.model.backbone(x), reduced, strict=True)):
                backbone_maps[level].append(b.cpu())
                teacher_maps[level].append(t.cpu())
        return fit_reduce_layers(self.model, backbone_maps, teacher_maps)

    # -- state -------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def resume(self) -> None:
        info = load_checkpoint(self.out / "last", self.model, self.ema.ema if self.ema else None, self.optimizer,
                               self.scaler)  # fmt: skip
        self.epoch, self.step_in_epoch = info["epoch"], info["step_in_epoch"]
        self.global_step, self.best_map, self.history = info["global_step"], info["best_map"], info["history"]
        if self.ema:
            self.ema.updates = info["ema_updates"]
        if self.average and info.get("average_count"):
            from safetensors.torch import load_file

            self.average.load(load_file(str(self.out / "last" / "average.safetensors")), info["average_count"])
        if self.is_main:
            print(f"resumed {self.out / 'last'} at epoch {self.epoch}, step {self.step_in_epoch}", file=sys.stderr)

    def save(self, name: str = "last") -> None:
        if not self.is_main:
            return
        info = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "best_map": self.best_map, "history": self.history, "ema_updates": self.ema.updates if self.ema else 0,
                "config": dataclasses.asdict(self.cfg),
                "average_count": self.average.count if self.average else 0}  # fmt: skip
        extra = {"average": self.average.state_tensors()} if self.average and self.average.count else None
        save_checkpoint(self.out / name, self.model, self.ema.ema if self.ema else None, self.optimizer,
                        self.scaler, info, extra)  # fmt: skip

    def deploy_model(self) -> torch.nn.Module:
        """What evaluation sees and export ships: the weight average once it has begun, else EMA or raw."""
        if self.average and self.average.count:
            return self.average.model
        model = self.ema.ema if self.ema else self.model
        return self._masked_copy(model) if self._learning_masks() and not self.masks else model

    # -- one step ----------------------------------------------------------------------
    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of epoch ``epoch``: a permutation seeded by (seed, epoch)."""
        g = torch.Generator().manual_seed(self.cfg.optim.seed * 100003 + epoch)
        order = torch.randperm(len(self.dataset), generator=g).tolist()[self.rank :: self.world]
        bs = self.cfg.optim.batch_size
        return [order[i * bs : (i + 1) * bs] for i in range(self.steps_per_epoch)]

    def train_step(self, images: torch.Tensor, targets: list[Target], labeled: torch.Tensor) -> dict[str, float]:
        cfg = self.cfg.optim
        total = cfg.epochs * self.steps_per_epoch
        lr = cfg.lr * lr_factor(self.global_step, total, self.steps_per_epoch, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        images = images.to(self.device)
        targets = [Target(t.boxes.to(self.device), t.labels.to(self.device), t.crowd.to(self.device), t.covered)
                   for t in targets]  # fmt: skip
        teacher_out, teacher_feats = self.teacher.run(images) if self.teacher is not None else (None, None)
        partial = torch.tensor([t.covered is not None for t in targets])
        if teacher_out is not None and not bool(labeled.all() and not partial.any()):
            dets = pseudo_labels(teacher_out, self.teacher.layout, self.cfg.distill.pseudo_threshold)
            for i in range(len(targets)):
                if not labeled[i]:
                    targets[i] = self._teacher_target(dets[i], targets[i].crowd)
                elif partial[i]:
                    targets[i] = self._completed_target(targets[i], dets[i])
        x = (images.permute(0, 3, 1, 2).float() - self.mean) / self.std
        amp = self.amp_dtype is not None
        frozen = self.global_step < self.cfg.distill.freeze_steps
        for p in self.frozen:
            p.requires_grad_(not frozen)
        learning = self._learning_masks() and not self.masks
        held = self._mask_for_forward() if learning else None
        try:  # a stop signal mid-step must not leave the masked weights to be saved as the dense ones
            with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=amp):
                raw, feats = self.net(x, with_features=self.cfg.distill.feature_at)
            losses = self.criterion(raw, targets, teacher_out)
            if teacher_feats is not None:
                losses["feat"] = feature_imitation_loss(feats, teacher_feats, self.cfg.distill.feature_loss)
                losses["loss"] = losses["loss"] + self.cfg.distill.feature_weight * losses["feat"]
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(losses["loss"]).backward()
        finally:
            if held is not None:
                self._back_to_dense(held, self.scaler.get_scale() if self.scaler.is_enabled() else 1.0)
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self._fading() and not self.masks:
            self._fade_step()
        if learning:
            self._learned_masks_step()
        if self.masks:
            apply_masks(self.model, self.masks)
        if self.ema is not None:
            self.ema.update(self.model)
            if self.masks:
                apply_masks(self.ema.ema, self.masks)
        self.global_step += 1
        return {k: float(v.detach()) for k, v in losses.items()} | {"lr": lr}

    def _teacher_target(self, det, crowd: torch.Tensor) -> Target:
        """An unlabelled image's target: the teacher's boxes."""
        labels = torch.from_numpy(det.class_ids.astype(np.int64)).to(self.device)
        return Target(torch.from_numpy(det.boxes).to(self.device), labels, crowd)

    def _completed_target(self, target: Target, det) -> Target:
        """A partially labelled image's target: its real boxes of the covered classes, plus the teacher's boxes
        of the other classes (they place box regression; their class scores learn from the teacher's soft
        targets in the criterion)."""
        covered = torch.tensor(sorted(target.covered), dtype=torch.long, device=self.device)
        real = torch.isin(target.labels, covered)
        taught = ~np.isin(det.class_ids, sorted(target.covered))
        boxes = torch.cat([target.boxes[real], torch.from_numpy(det.boxes[taught]).to(self.device)])
        labels = torch.cat([target.labels[real],
                            torch.from_numpy(det.class_ids[taught].astype(np.int64)).to(self.device)])  # fmt: skip
        return Target(boxes, labels, target.crowd, target.covered)

    # -- epochs ------------------------------------------------------------------------
    def fit(self) -> Path | None:
        cfg = self.cfg
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))
        try:
            while self.epoch < cfg.optim.epochs:
                self.run_epoch()
                self.epoch, self.step_in_epoch = self.epoch + 1, 0
                if self.average and self.epoch >= cfg.optim.average_from:
                    self.average.fold(self.ema.ema if self.ema else self.model)
                if self.is_main and cfg.data.val and cfg.eval.every and self.epoch % cfg.eval.every == 0:
                    self.evaluate_and_keep_best()
                self.save()
        except KeyboardInterrupt:
            self.save()
            print(f"\ninterrupted: saved {self.out / 'last'}; run the same command again to resume", file=sys.stderr)
            raise
        finally:
            if self.writer:
                self.writer.close()
        if not self.is_main:
            return None
        if cfg.data.val and (not cfg.eval.every or cfg.optim.epochs % cfg.eval.every):
            self.evaluate_and_keep_best()
        return self.export_best()

    def run_epoch(self) -> None:
        self.dataset.set_epoch(self.epoch)
        batches = self.batches(self.epoch)[self.step_in_epoch :]
        loader = DataLoader(self.dataset, batch_sampler=batches, collate_fn=collate, worker_init_fn=_quiet_worker,
                            num_workers=self.cfg.data.workers, persistent_workers=False)  # fmt: skip
        self.model.train()
        if self.cfg.optim.freeze_bn:
            for m in self.model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        bar = tqdm(_workers_started(loader), desc=f"epoch {self.epoch + 1}/{self.cfg.optim.epochs}", unit="batch",
                   disable=not (self.progress and self.is_main), file=sys.stderr, initial=self.step_in_epoch,
                   total=self.steps_per_epoch)  # fmt: skip
        t0 = time.perf_counter()
        for images, targets, labeled in bar:
            stats = self.train_step(images, targets, labeled)
            self.step_in_epoch += 1
            rate = len(images) * self.world / max(time.perf_counter() - t0, 1e-9)
            t0 = time.perf_counter()
            bar.set_postfix(loss=f"{stats['loss']:.3f}", qfl=f"{stats['qfl']:.3f}", giou=f"{stats['giou']:.3f}",
                            lr=f"{stats['lr']:.2e}", img_s=f"{rate:.1f}")  # fmt: skip
            if self.writer:
                for key, value in stats.items():
                    self.writer.add_scalar(f"train/{key}", value, self.global_step)

    # -- evaluation and export ----------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """COCO metrics on every val set: the first set's as they are, the others' prefixed by their name."""
        from .coco_eval import CocoSplit, evaluate

        meta = package_meta(self.model, self.mcfg.input_size, self.class_names)
        detector = Detector(TorchBackend(self.deploy_model(), meta, self.device), conf=self.cfg.eval.conf,
                            iou=self.cfg.eval.iou, max_det=100)  # fmt: skip
        metrics: dict[str, float] = {}
        for k, val in enumerate(self.cfg.data.val_sets()):
            found = evaluate(detector, CocoSplit(Path(val.annotations), Path(val.images)), val.limit or None,
                             progress=self.progress)  # fmt: skip
            prefix = "" if k == 0 else f"{val.name or f'val{k}'}/"
            metrics |= {prefix + key: value for key, value in found.items()}
        return metrics

    def evaluate_and_keep_best(self) -> dict[str, float]:
        metrics = self.evaluate()
        self.history.append({"epoch": self.epoch, "step": self.global_step, **metrics})
        if self.writer:
            for key, value in metrics.items():
                self.writer.add_scalar(f"val/{key}", value, self.global_step)
        said = [f"{k} {v:.4f}" for k, v in metrics.items() if k.rsplit("/", 1)[-1] in ("mAP", "AP50")]
        print(f"epoch {self.epoch}: {' '.join(said)}", file=sys.stderr)
        if self.cfg.eval.keep == "best" and metrics["mAP"] > self.best_map:
            self.best_map = metrics["mAP"]
            from safetensors.torch import save_file

            state = {k: v.detach().contiguous().cpu() for k, v in self.deploy_model().state_dict().items()}
            save_file(state, str(self.out / "best.safetensors"))
        return metrics

    def export_best(self) -> Path:
        from safetensors.torch import load_file

        model = build_model(dataclasses.replace(self.mcfg, backbone=dataclasses.replace(self.mcfg.backbone,
                                                                                        pretrained=False)))
        best = self.out / "best.safetensors"
        if self.cfg.eval.keep == "best" and best.exists():
            model.load_state_dict(load_file(str(best)))
            extra = {"best_mAP": round(self.best_map, 4)}
        else:
            model.load_state_dict(self.deploy_model().state_dict())
            extra = {"final_mAP": round(self.history[-1]["mAP"], 4)} if self.history else {}
        meta = package_meta(model, self.mcfg.input_size, self.class_names, name=self.cfg.name,
                            source=f"kestrel train {self.cfg.name}", extra={**extra, "history": self.history[-5:]})
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                  str(self.out / "model.safetensors"))  # the package's weights, e.g. for a 2:4 stage's init
        path = export_package(model, meta, self.out / f"{self.cfg.name}.onnx")
        print(f"exported {path}", file=sys.stderr)
        return path
