"""The trainer's 2:4 steps: masks cut at once (by magnitude or layer-wise reconstruction), faded in
gradually or learned (SR-STE), and the saved masks a resumed run needs."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from detector.errors import KestrelError

from .config import TrainConfig
from .sparsity import apply_masks, compute_masks, fade_factor, fade_pruned, is_eligible, load_masks, save_masks

Held = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]  # (dense weights, this step's masks)


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

    def _permute_channels(self) -> None:
        """Reorder free input channels before the masks are cut (deterministic: a resumed run repeats it)."""
        from .permutation import permute

        bar = tqdm(desc="2:4 channel permutation", unit="layer", file=sys.stderr,
                   disable=not (self.progress and self.is_main))  # fmt: skip
        with torch.no_grad():
            rows = permute(self.model, self.cfg.sparsity.skip, report=lambda _row: bar.update())
        bar.close()
        if rows and self.is_main:
            before = sum(r["kept_before"] for r in rows) / len(rows)
            after = sum(r["kept_after"] for r in rows) / len(rows)
            print(f"2:4 channel permutation: {len(rows)} layers, weight magnitude kept {before:.3f} -> {after:.3f}",
                  file=sys.stderr)  # fmt: skip

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

    def _learning_masks(self) -> bool:
        return self.cfg.sparsity.enabled and self.cfg.sparsity.srste_epochs > 0

    def _dynamic_steps(self) -> int:
        """Optimiser steps before the masks freeze, for a fade or learned masks."""
        return max(1, round(self.cfg.sparsity.dynamic_epochs() * self.steps_per_epoch))

    def _dynamic_over(self) -> bool:
        return (self._fading() or self._learning_masks()) and self.global_step >= self._dynamic_steps()

    def _fade_step(self) -> None:
        """One step of gradual 2:4 pruning; on the last, the masks freeze (and are saved for a resume)."""
        steps, step = self._dynamic_steps(), self.global_step + 1
        masks = fade_pruned(self.model, fade_factor(step, steps), self.cfg.sparsity.skip)
        if step >= steps:
            self._freeze(masks, f"2:4 fade done at step {step}")

    def _freeze(self, masks: dict[str, torch.Tensor], what: str) -> None:
        self.masks = masks
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_masks(masks, self.out / "masks.safetensors")
            print(f"\n{what}: masks frozen on {len(masks)} layers", file=sys.stderr)

    # -- learned masks (SR-STE) --------------------------------------------------------------
    def _mask_for_forward(self) -> Held:
        """This step's 2:4 magnitude masks of the dense weights, applied in place for the forward; the dense
        weights are kept aside for ``_back_to_dense``."""
        masks = compute_masks(self.model, self.cfg.sparsity.skip)
        modules = dict(self.model.named_modules())
        dense = {name: modules[name].weight.detach().clone() for name in masks}
        apply_masks(self.model, masks)
        return dense, masks

    @torch.no_grad()
    def _back_to_dense(self, held: Held, grad_scale: float) -> None:
        """After backward: the dense weights return and take the masked forward's gradient as their own
        (straight-through), the pruned ones plus a decay towards zero (SR-STE's refinement, λ(1 − m)w): a
        pruned weight that keeps its gradient can grow back into the mask, one the loss does not need fades."""
        dense, masks = held
        modules = dict(self.model.named_modules())
        decay = self.cfg.sparsity.srste_decay * grad_scale
        for name, mask in masks.items():
            weight = modules[name].weight
            weight.copy_(dense[name])
            if weight.grad is not None and decay:
                weight.grad.add_(torch.where(mask, 0.0, decay) * weight)

    def _learned_masks_step(self) -> None:
        """After the optimiser step: on the phase's last step the masks of the dense weights freeze."""
        step = self.global_step + 1
        if step >= self._dynamic_steps():
            masks = compute_masks(self.model, self.cfg.sparsity.skip)
            apply_masks(self.model, masks)
            self._freeze(masks, f"2:4 masks learned over {step} steps")

    def _masked_copy(self, model: torch.nn.Module) -> torch.nn.Module:
        """While masks are still being learned, evaluation and export see the 2:4 model the masks of that
        moment give."""
        import copy

        masked = copy.deepcopy(model)
        apply_masks(masked, compute_masks(masked, self.cfg.sparsity.skip))
        return masked
