"""The paper's sparsity + distillation claim, measured on real weights.

    .venv/bin/python experiments/sparsity_distill_nanodet.py [--epochs 6] [--frames-per-clip 24]

NanoDet-Plus-m-416 (ncnn weights loaded into the torch model, BN folded) is the dense model:
  1. mAP dense on COCO tiny val (80 images),
  2. 2:4 masks (ASP rule) -> mAP right after pruning,
  3. retrain with the masks fixed and LD from the dense model, on the ../shared train images (COCO tiny
     train, tinycoco-train, coco128) plus frames of the ../shared videos (teacher pseudo-labels),
  4. mAP again; the sparse package is exported and its 2:4 pattern checked.
Prints a table and writes build/experiments/sparsity_distill.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
PARAM = SHARED / "weights" / "nanodet" / "nanodet-plus-m_416.param"
COCO = SHARED / "data" / "coco"


def extract_frames(out: Path, per_clip: int) -> int:
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for clip in sorted((SHARED / "data" / "videos").iterdir()):
        cap = cv2.VideoCapture(str(clip))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
        for k in range(per_clip):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(k * total / per_clip))
            ok, frame = cap.read()
            if ok:
                cv2.imwrite(str(out / f"{clip.stem}_{k:03d}.jpg"), frame)
                count += 1
        cap.release()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--frames-per-clip", type=int, default=24)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "experiments")
    args = parser.parse_args()
    if not PARAM.exists():
        print(f"needs {PARAM} (../shared is absent)", file=sys.stderr)
        return 2
    import torch
    from safetensors.torch import save_file

    from detector.models import build_model
    from detector.models.ncnn_weights import load_ncnn_into
    from detector.sparsity_report import sparsity_report
    from trainer.config import (
        DataConfig,
        DatasetConfig,
        DistillConfig,
        EvalConfig,
        OptimConfig,
        SparsityConfig,
        TrainConfig,  # fmt: skip
    )
    from trainer.data.pipeline import AugmentConfig
    from trainer.loop import Trainer
    from trainer.sparsity import apply_masks, compute_masks

    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    dense = load_ncnn_into(build_model("nanodet-plus-m"), PARAM, 416)
    dense_weights = args.out / "nanodet-plus-m_416_dense.safetensors"
    save_file({k: v.contiguous() for k, v in dense.state_dict().items()}, str(dense_weights))
    frames = extract_frames(args.out / "frames", args.frames_per_clip)
    model_cfg = dataclasses.replace(dense.config, fused=True)
    val = DatasetConfig(type="coco", annotations=str(COCO / "tiny/annotations/instances_val2017.json"),
                        images=str(COCO / "tiny/val2017"))  # fmt: skip
    train = [
        DatasetConfig(type="coco", annotations=str(COCO / "tiny/annotations/instances_train2017.json"),
                      images=str(COCO / "tiny/train2017")),
        DatasetConfig(type="coco", annotations=str(COCO / "tinycoco-train/annotations/instances_train2017.json"),
                      images=str(COCO / "tinycoco-train/images/train2017")),
        DatasetConfig(type="yolo", images=str(COCO / "coco128/images/train2017"),
                      labels=str(COCO / "coco128/labels/train2017")),
        DatasetConfig(type="images", images=str(args.out / "frames")),
    ]  # fmt: skip
    cfg = TrainConfig(
        name="nanodet-plus-m-416-2of4", model=model_cfg,
        data=DataConfig(train=train, val=val, workers=0,
                        augment=AugmentConfig(mosaic=0.2, mixup=0.0, cutmix=0.1, scale=(0.75, 1.25), translate=0.1)),
        optim=OptimConfig(epochs=args.epochs, batch_size=8, optimizer="adamw", lr=args.lr, weight_decay=0.0,
                          warmup_steps=20, warmup_ratio=0.1, ema_decay=0.999, grad_clip=10.0),
        eval=EvalConfig(every=1), distill=DistillConfig(teacher=str(PARAM), weight=1.0),
        sparsity=SparsityConfig(enabled=False, init=str(dense_weights)), output=str(args.out), resume=False,
    )  # fmt: skip
    trainer = Trainer(cfg)
    results = {"dense": trainer.evaluate()}
    masks = compute_masks(trainer.model)
    apply_masks(trainer.model, masks)
    if trainer.ema:
        trainer.ema.ema.load_state_dict(trainer.model.state_dict())
    results["pruned"] = trainer.evaluate()
    trainer.masks = masks
    trainer.cfg = dataclasses.replace(cfg, sparsity=dataclasses.replace(cfg.sparsity, enabled=True))
    t0 = time.time()
    package = trainer.fit()
    results["retrained"] = {"mAP": trainer.best_map, "history": trainer.history, "minutes": (time.time() - t0) / 60}
    rows = [r for r in sparsity_report(package) if r.eligible]
    summary = {
        "train_images": len(trainer.dataset), "video_frames": frames, "epochs": args.epochs,
        "masked_layers": len(masks),
        "exported_2of4_layers": sum(r.compliance == 1.0 for r in rows), "eligible_layers": len(rows),
        "package": str(package), **results,
    }  # fmt: skip
    (args.out / "sparsity_distill.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'stage':28s} {'mAP':>7s} {'AP50':>7s}")
    print(f"{'dense (ncnn weights)':28s} {results['dense']['mAP']:7.4f} {results['dense']['AP50']:7.4f}")
    print(f"{'2:4 pruned, no retraining':28s} {results['pruned']['mAP']:7.4f} {results['pruned']['AP50']:7.4f}")
    best = max(trainer.history, key=lambda h: h["mAP"])
    print(f"{'2:4 + retrain with LD (best)':28s} {best['mAP']:7.4f} {best['AP50']:7.4f}  (epoch {best['epoch']})")
    print(f"{summary['exported_2of4_layers']} of {len(rows)} eligible layers 2:4 in {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
