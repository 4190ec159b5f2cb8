"""kestrel import: ncnn .param/.bin or a NanoDet PyTorch checkpoint -> a model package."""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.errors import KestrelError, ModelImportError

CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".pt", ".safetensors")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="convert ncnn or PyTorch NanoDet weights into a Kestrel model package",
        description="Convert a NanoDet-style model into a Kestrel model package (ONNX + metadata). "
        "ncnn models need no torch; PyTorch checkpoints need the 'train' extra and are read as "
        "tensors only (pickled code is refused).",
    )
    p.add_argument("source", type=Path, help="a .param (its .bin beside it) or a .ckpt/.pth/.safetensors")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the package (.onnx)")
    p.add_argument("--input-size", type=int, help="square input size (default: from the file name)")
    p.add_argument("--arch", help="checkpoint architecture: nanodet-m or nanodet-plus-m (default: guessed)")
    p.add_argument("--classes", type=Path, help="text file of class names, one per line (default: COCO 80)")
    p.add_argument("--center-offset", type=float, default=0.0,
                   help="ncnn only: point centre offset in strides; NanoDet-Plus 0 (default), NanoDet 0.5")
    p.add_argument("--name", help="model name stored in the package (default: the file stem)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    src: Path = args.source
    if not src.exists():
        raise KestrelError(f"no such file: {src}")
    names = None
    if args.classes:
        if not args.classes.is_file():
            raise KestrelError(f"class names file not found: {args.classes}")
        names = tuple(line.strip() for line in args.classes.read_text().splitlines() if line.strip())
    if src.suffix in (".param", ".bin"):
        from detector.ncnn.importer import import_ncnn

        meta = import_ncnn(src.with_suffix(".param"), args.output, input_size=args.input_size,
                           class_names=names, center_offset=args.center_offset, name=args.name)  # fmt: skip
    elif src.suffix in CHECKPOINT_SUFFIXES:
        try:
            from detector.models.import_checkpoint import import_checkpoint
        except ImportError as exc:
            raise KestrelError(
                f"importing PyTorch checkpoints needs torch ({exc}); pip install 'kestrel-vision[train]'"
            ) from None
        if names:
            raise KestrelError("--classes applies to ncnn imports; checkpoints carry COCO's 80 classes")
        meta = import_checkpoint(src, args.output, arch=args.arch, input_size=args.input_size, name=args.name)
    else:
        raise ModelImportError(f"don't know how to import '{src.suffix}' files (use .param, .ckpt, .pth)")
    print(f"wrote {args.output}: {meta.name}, {meta.input_width}x{meta.input_height}, "
          f"{meta.num_classes} classes, strides {list(meta.strides)}, reg_max {meta.reg_max}")  # fmt: skip
    return 0
