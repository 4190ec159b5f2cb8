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
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..outputs import atomic_output, check_output

    src: Path = args.source
    if not src.exists():
        raise KestrelError(f"no such file: {src}")
    check_output(args.output, [src, src.with_suffix(".param"), src.with_suffix(".bin"), args.classes], args.overwrite)
    with atomic_output(args.output) as tmp:
        meta = _convert(args, src, tmp)
    print(f"wrote {args.output}: {meta.name}, {meta.input_width}x{meta.input_height}, "
          f"{meta.num_classes} classes, strides {list(meta.strides)}, reg_max {meta.reg_max}")  # fmt: skip
    return 0


def _convert(args: argparse.Namespace, src: Path, out: Path):
    names = None
    if args.classes:
        if not args.classes.is_file():
            raise KestrelError(f"class names file not found: {args.classes}")
        names = tuple(line.strip() for line in args.classes.read_text().splitlines() if line.strip())
    if src.suffix in (".param", ".bin"):
        from detector.ncnn.importer import import_ncnn

        return import_ncnn(src.with_suffix(".param"), out, input_size=args.input_size, class_names=names,
                           center_offset=args.center_offset, name=args.name or src.stem)  # fmt: skip
    elif src.suffix in CHECKPOINT_SUFFIXES:
        try:
            from detector.models.import_checkpoint import import_checkpoint
        except ImportError as exc:
            raise KestrelError(
                f"importing PyTorch checkpoints needs torch ({exc}); pip install 'kestrel-vision[train]'"
            ) from None
        if names:
            raise KestrelError("--classes applies to ncnn imports; checkpoints carry COCO's 80 classes")
        return import_checkpoint(src, out, arch=args.arch, input_size=args.input_size, name=args.name or src.stem)
    raise ModelImportError(f"don't know how to import '{src.suffix}' files (use .param, .ckpt, .pth)")
