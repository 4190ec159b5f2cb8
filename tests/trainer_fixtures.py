"""A tiny model and a synthetic YOLO dataset the trainer tests can train on in seconds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

TINY_MODEL = {
    "name": "tiny",
    "backbone": {"name": "shufflenetv2", "model_size": "0.5x", "act": "leakyrelu"},
    "neck": {"name": "pan", "out_channels": 32},
    "head": {"num_classes": 3, "feat_channels": 32, "stacked_convs": 1, "kernel_size": 3,
             "strides": [8, 16, 32], "reg_max": 7},
    "input_size": 64,
}  # fmt: skip


def write_yolo_dataset(root: Path, count: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """Coloured rectangles on noise; class = colour."""
    rng = np.random.default_rng(seed)
    images, labels = root / "images", root / "labels"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    for i in range(count):
        img = rng.integers(0, 60, (96, 128, 3), dtype=np.uint8)
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            cls = int(rng.integers(0, 3))
            w, h = int(rng.integers(20, 50)), int(rng.integers(20, 50))
            x, y = int(rng.integers(0, 128 - w)), int(rng.integers(0, 96 - h))
            img[y : y + h, x : x + w] = colours[cls]
            lines.append(f"{cls} {(x + w / 2) / 128:.6f} {(y + h / 2) / 96:.6f} {w / 128:.6f} {h / 96:.6f}")
        cv2.imwrite(str(images / f"{i:03d}.png"), img)
        (labels / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
    return images, labels


def tiny_config(tmp: Path, **optim) -> dict:
    images, labels = write_yolo_dataset(tmp / "data")
    return {
        "name": "t",
        "model": TINY_MODEL,
        "data": {"train": [{"type": "yolo", "images": str(images), "labels": str(labels)}], "workers": 0,
                 "augment": {"mosaic": 0.5, "mixup": 0.2, "cutmix": 0.2}},
        "optim": {"epochs": 2, "batch_size": 2, "lr": 0.01, "warmup_steps": 2, "ema_decay": 0.99, **optim},
        "output": str(tmp / "runs"),
    }  # fmt: skip


def write_coco_json(images: Path, labels: Path, out: Path, names: tuple[str, ...] = ("person", "bicycle", "car")):
    """The YOLO dataset of ``write_yolo_dataset`` as COCO JSON (class i named ``names[i]``)."""
    import json

    coco = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)]}
    for k, image in enumerate(sorted(images.glob("*.png"))):
        h, w = cv2.imread(str(image)).shape[:2]
        coco["images"].append({"id": k + 1, "file_name": image.name, "width": w, "height": h})
        for line in (labels / f"{image.stem}.txt").read_text().split("\n"):
            if line.strip():
                c, cx, cy, bw, bh = (float(v) for v in line.split())
                box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": k + 1, "iscrowd": 0,
                                            "category_id": int(c) + 1, "bbox": box, "area": box[2] * box[3]})
    out.write_text(json.dumps(coco))
    return out
