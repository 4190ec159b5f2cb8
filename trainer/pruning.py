"""The trainer's 2:4 steps: masks cut at once (by magnitude or layer-wise reconstruction) or faded in
gradually, and the saved masks a resumed run needs."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from detector.errors import KestrelError

from .config import TrainConfig
from .sparsity import apply_masks, compute_masks, fade_factor, fade_pruned, is_eligible, load_masks, save_masks


class PruningSteps:
    """Mixed into ``Trainer``: uses its model, config, output folder, device and calibration images."""

    cfg: TrainConfig
    model: torch.nn.Module
    out: Path
    device: torch.device
    mean: torch.Tensor
    std: torch.Tensor
    progress: bool
    is_main: bool
    global_step: int
    steps_per_epoch: int
    masks: dict[str, torch.Tensor]

    def _sparsify(self) -> dict[str, torch.Tensor]:
        """2:4 masks, applied: by magnitude, or by layer-wise reconstruction on calibration images (saved
        beside the checkpoints, since a resumed run cannot recompute them from already-pruned weights)."""
        sp = self.cfg.sparsity
        if not sp.reconstruct_images:
            masks = compute_masks(self.model, sp.skip)
            apply_masks(self.model, masks)
            return masks
        from .reconstruct import prune_and_reconstruct

        saved = self.out / "masks.safetensors"
        if self.cfg.resume and (self.out / "last").exists():  # the checkpoint holds weights pruned by these masks
            masks = self._load_saved_masks("a reconstructed 2:4 run")
            apply_masks(self.model, masks)
            return masks
        batches = [(b.to(self.device).permute(0, 3, 1, 2).float() - self.mean) / self.std
                   for b in self._plain_images(sp.reconstruct_images)]  # fmt: skip
        total = sum(1 for n, m in self.model.named_modules() if is_eligible(m) and not n.startswith(sp.skip))
        bar = tqdm(desc="2:4 pruning, layer-wise reconstruction", unit="layer", file=sys.stderr, total=total,
                   disable=not (self.progress and self.is_main))  # fmt: skip
        fits: list[float] = []

        def report(name: str, r2: float) -> None:
            fits.append(r2)
            bar.update()
            bar.set_postfix(layer=name, r2=f"{r2:.3f}")

        masks = prune_and_reconstruct(self.model, batches, sp.skip, report=report)
        bar.close()
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_masks(masks, saved)
            median = sorted(fits)[len(fits) // 2]
            print(f"2:4 masks on {len(masks)} layers by reconstruction ({sp.reconstruct_images} images): "
                  f"layer R^2 median {median:.3f}, min {min(fits):.3f}", file=sys.stderr)  # fmt: skip
        return masks

    def _load_saved_masks(self, who: str) -> dict[str, torch.Tensor]:
        saved = self.out / "masks.safetensors"
        if not saved.exists():
            raise KestrelError(f"{saved} is missing: {who} cannot resume without its masks "
                               f"(delete {self.out / 'last'} to start over)")  # fmt: skip
        return load_masks(saved, self.device)

    def _fading(self) -> bool:
        return self.cfg.sparsity.enabled and self.cfg.sparsity.fade_epochs > 0

    def _fade_steps(self) -> int:
        return max(1, round(self.cfg.sparsity.fade_epochs * self.steps_per_epoch))

    def _fade_step(self) -> None:
        """One step of gradual 2:4 pruning; on the last, the masks freeze (and are saved for a resume)."""
        steps, step = self._fade_steps(), self.global_step + 1
        masks = fade_pruned(self.model, fade_factor(step, steps), self.cfg.sparsity.skip)
        if step >= steps:
            self.masks = masks
            if self.is_main:
                self.out.mkdir(parents=True, exist_ok=True)
                save_masks(masks, self.out / "masks.safetensors")
                print(f"\n2:4 fade done at step {step}: masks frozen on {len(masks)} layers", file=sys.stderr)
