"""Does a longer 2:4 stage close the road-scene 2:4 gap? A 2:4 schedule of many epochs on one lent GPU.

The road 2:4 stage (configs/road-lite0-320-2of4.yaml) takes ~7 CPU minutes an epoch here, so a long schedule
is out of reach on 2 cores. A GPU machine reaches nothing outside the repository and takes at most 64 MiB
of it, so ``pack`` writes a compact copy of the recipe's training data into ``.gpupack/`` (git-ignored):
every training image scaled to at most ``--side`` px on its longer side (the network input is 320) and
stored as WebP, COCO boxes scaled with it, the video frames the recipe samples saved as images, the dense
start as float16 and the teacher's ncnn files. ``.gpupack/config.yaml`` is the road 2:4 recipe on that
copy (no val sets: evaluation runs here afterwards on the untouched val sets).

    .venv/bin/python experiments/gpu_2of4_schedule.py pack --epochs 60
    # on the GPU machine, from the repository root, .gpupack carried (docs/trainer.md: the run made):
    BUDGET=510 bash .gpupack/run.sh
    # the rest of the schedule here, from the checkpoint it returns (in runs/NAME/last):
    .venv/bin/kestrel train .gpupack/config.yaml data.workers=1
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.images import read_image  # noqa: E402
from detector.typed_config import load_yaml  # noqa: E402
from trainer.data.video import VideoFramesSource  # noqa: E402
from trainer.data.yolo import IMAGE_SUFFIXES  # noqa: E402

PACK = ROOT / ".gpupack"

# The GPU machine's command (`BUDGET=510 bash .gpupack/run.sh`; what comes back lands in $OUT): stage a, the
# 2:4 schedule, until BUDGET - 90 s; if it ends in time, stage b averages 5 more epochs with what is left.
# A stage cut short returns its checkpoint (optim split under 16 MiB a file) to resume here.
RUN_SH = r"""#!/bin/bash
# One GPU lease: the 2:4 stage on the packed data (a), then its weight-averaging stage (b) if time is left.
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
T0=$(date +%s); BUDGET=${BUDGET:-540}; R=/tmp/runs
A=$R/road-lite0-320-2of4-gpu; B=$R/road-lite0-320-2of4-gpu-average
el() { echo $(( $(date +%s) - T0 )); }
nvidia-smi -L; nproc
python3 experiments/gpu_2of4_schedule.py unpack-init || exit 1
( while sleep 10; do
    echo "$(el) s $(grep -ho '"epoch": [0-9]*' $A/last/trainer.json $B/last/trainer.json 2>/dev/null | tr '\n' ' ')"
  done ) > $OUT/progress.txt &
timeout -s INT $(( BUDGET - 90 )) python3 -m app.cli train --no-progress .gpupack/config.yaml output=$R \
  model.backbone.pretrained=false > $OUT/stage-a.log 2>&1
echo "stage a rc=$? at $(el) s"
if [ ! -f $A/model.safetensors ]; then
  cd $A/last && cp model.safetensors ema.safetensors trainer.json $OUT/ \
    && split -b 15000000 optim.safetensors $OUT/optim.part-
  ls -la $OUT; exit 0
fi
cp $A/model.safetensors $OUT/a-model.safetensors
LEFT=$(( BUDGET - $(el) ))
echo "left for stage b: $LEFT s"
if [ $LEFT -gt 45 ]; then
  timeout -s INT $LEFT python3 -m app.cli train --no-progress .gpupack/config-average.yaml output=$R \
    model.backbone.pretrained=false > $OUT/stage-b.log 2>&1
  echo "stage b rc=$? at $(el) s"
  [ -f $B/model.safetensors ] && cp $B/model.safetensors $OUT/b-model.safetensors
fi
mkdir -p $OUT/tb; cp $A/tb/* $OUT/tb/ 2>/dev/null; ls -la $OUT $OUT/tb
"""

AVERAGE_YAML = """extends: config.yaml
name: road-lite0-320-2of4-gpu-average
optim: {epochs: 5, lr: 2.0e-5, schedule: multistep, milestones: [], warmup_steps: 0, average_from: 1}
sparsity: {init: /tmp/runs/road-lite0-320-2of4-gpu/model.safetensors}
"""


def shrink(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    k = min(1.0, side / max(h, w))
    if k < 1.0:
        image = cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return image, k


def write_webp(image: np.ndarray, path: Path, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"WebP encoding failed for {path}")
    path.write_bytes(data.tobytes())


def pack_coco(ds: dict, out: Path, side: int, quality: int) -> dict:
    data = json.loads(Path(ds["annotations"]).read_text())
    scale: dict[int, float] = {}
    for info in data["images"]:
        image, k = shrink(read_image(Path(ds["images"]) / info["file_name"]), side)
        info["file_name"] = str(Path(info["file_name"]).with_suffix(".webp"))
        info["height"], info["width"] = image.shape[:2]
        scale[info["id"]] = k
        write_webp(image, out / "images" / info["file_name"], quality)
    for ann in data.get("annotations", []):
        k = scale.get(ann["image_id"], 1.0)
        ann["bbox"] = [v * k for v in ann["bbox"]]
        ann["area"] = ann.get("area", 0) * k * k
        ann.pop("segmentation", None)
    (out / "annotations.json").write_text(json.dumps(data))
    return {**ds, "annotations": rel(out / "annotations.json"), "images": rel(out / "images")}


def pack_yolo(ds: dict, out: Path, side: int, quality: int) -> dict:
    images, labels = Path(ds["images"]), Path(ds["labels"])
    for path in sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        relative = path.relative_to(images)
        write_webp(shrink(read_image(path), side)[0], out / "images" / relative.with_suffix(".webp"), quality)
        label = labels / relative.with_suffix(".txt")
        if label.is_file():  # normalised coordinates: unchanged by the scaling
            (out / "labels" / relative.with_suffix(".txt")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(label, out / "labels" / relative.with_suffix(".txt"))
    return {**ds, "images": rel(out / "images"), "labels": rel(out / "labels")}


def pack_images(ds: dict, out: Path, side: int, quality: int) -> dict:
    folder = Path(ds["images"])
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        write_webp(shrink(read_image(path), side)[0], out / path.relative_to(folder).with_suffix(".webp"), quality)
    return {**ds, "images": rel(out)}


def pack_video(ds: dict, out: Path, side: int, quality: int, class_names: tuple[str, ...]) -> dict:
    source = VideoFramesSource(ds["video"], ds.get("frames", 100), class_names)  # the frames the recipe samples
    for i in range(len(source)):
        write_webp(shrink(source.frames[i], side)[0], out / f"{i:05d}.webp", quality)
    return {"type": "images", "images": rel(out)}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def pack(args: argparse.Namespace) -> None:
    recipe = load_yaml(str(ROOT / args.config))
    if PACK.exists():
        shutil.rmtree(PACK)
    train = []
    for i, ds in enumerate(recipe["data"]["train"]):
        out = PACK / "data" / f"{i:02d}-{ds['type']}"
        if ds["type"] == "coco":
            train.append(pack_coco(ds, out, args.side, args.quality))
        elif ds["type"] == "yolo":
            train.append(pack_yolo(ds, out, args.side, args.quality))
        elif ds["type"] == "images":
            train.append(pack_images(ds, out, args.side, args.quality))
        elif ds["type"] == "video":
            train.append(pack_video(ds, out, args.side, args.quality, ()))
        print(f"{out.name}: {sum(1 for _ in out.rglob('*.webp'))} images", flush=True)
    init = load_file(str(ROOT / recipe["sparsity"]["init"]))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in init.items()}, str(PACK / "init16.safetensors"))
    teacher = Path(recipe["distill"]["teacher"])
    (PACK / "teacher").mkdir()
    for suffix in (".param", ".bin"):
        shutil.copy(teacher.with_suffix(suffix), PACK / "teacher" / teacher.with_suffix(suffix).name)
    config = {
        "extends": f"../{args.config}",
        "name": args.name,
        "data": {"train": train, "val": None, "workers": args.workers},
        "optim": {"epochs": args.epochs},
        "distill": {"teacher": rel(PACK / "teacher" / teacher.with_suffix(".param").name)},
        "sparsity": {"init": rel(PACK / "init.safetensors")},
        "eval": {"every": 0, "keep": "last"},
    }
    (PACK / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (PACK / "config-average.yaml").write_text(AVERAGE_YAML.replace("road-lite0-320-2of4-gpu", args.name))
    (PACK / "run.sh").write_text(RUN_SH.replace("road-lite0-320-2of4-gpu", args.name))
    size = sum(p.stat().st_size for p in PACK.rglob("*") if p.is_file())
    print(f"{PACK}: {size / 2**20:.1f} MiB")


def unpack_init() -> None:
    """On the GPU machine: the float16 start back to float32, where the recipe's init points."""
    weights = load_file(str(PACK / "init16.safetensors"))
    save_file({k: v.float() if v.dtype == torch.float16 else v for k, v in weights.items()},
              str(PACK / "init.safetensors"))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="write .gpupack/ from a recipe")
    p.add_argument("--config", default="configs/road-lite0-320-2of4.yaml")
    p.add_argument("--name", default="road-lite0-320-2of4-gpu")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--side", type=int, default=320)
    p.add_argument("--quality", type=int, default=55)
    p.add_argument("--workers", type=int, default=14)
    sub.add_parser("unpack-init", help="on the GPU machine: float32 start from init16.safetensors")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args)
    else:
        unpack_init()


if __name__ == "__main__":
    main()
