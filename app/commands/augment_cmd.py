"""kestrel augment-preview: write a batch of augmented training samples as one PNG grid."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from detector.detections import Detections
from detector.errors import KestrelError

from ..overlay import annotate
from .arg_types import non_negative_int, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment-preview", help="write augmented training samples as a PNG grid",
                       description="Draw what the trainer sees: samples of a recipe's training data after "
                       "mosaic/MixUp/CutMix/affine/colour augmentation, with their boxes.")  # fmt: skip
    p.add_argument("config", help="recipe YAML")
    p.add_argument("overrides", nargs="*", help="key=value changes to the recipe")
    p.add_argument("-o", "--output", type=Path, default=Path("augment-preview.png"))
    p.add_argument("--count", type=positive_int, default=16, help="number of samples (default 16)")
    p.add_argument("--epoch", type=non_negative_int, default=0, help="which epoch's augmentation to draw")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.set_defaults(handler=run)


def grid(images: list[np.ndarray], columns: int) -> np.ndarray:
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    canvas = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return canvas


def run(args: argparse.Namespace) -> int:
    try:
        from trainer.config import load_config
        from trainer.data.build import build_source
        from trainer.data.pipeline import AugmentedDataset, ConcatSource, TrainTransform
    except ImportError as exc:
        raise KestrelError(f"augment-preview needs the train extra ({exc})") from None
    from detector.coco_names import COCO_CLASSES

    from ..outputs import atomic_output, check_output

    check_output(args.output, [args.config], args.overwrite)
    cfg = load_config(args.config, args.overrides)
    mcfg = cfg.model_config()
    names = COCO_CLASSES[: mcfg.head.num_classes]
    source = ConcatSource([build_source(d, names) for d in cfg.data.train])
    ds = AugmentedDataset(source, TrainTransform(cfg.data.augment, mcfg.input_size, mcfg.input_size), cfg.optim.seed)
    ds.set_epoch(args.epoch)
    drawn = []
    for i in range(min(args.count, len(ds))):
        s = ds[i]
        dets = Detections(s.boxes, np.ones(len(s.boxes), np.float32), s.labels.astype(np.int32), names)
        drawn.append(annotate(s.image, dets, thickness=1, font_scale=0.35))
    with atomic_output(args.output) as tmp:
        if not cv2.imwrite(str(tmp), grid(drawn, columns=4)):
            raise KestrelError(f"cannot write {args.output} (an image suffix such as .png or .jpg?)")
    print(f"wrote {args.output} ({len(drawn)} samples)")
    return 0
