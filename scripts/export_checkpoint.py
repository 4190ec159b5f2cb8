"""Export a training run's latest checkpoint (its EMA weights, as evaluation uses) as a model package, while the
run goes on — to try a long run's model mid-way in `kestrel run`, `kestrel eval` or a benchmark.

    .venv/bin/python scripts/export_checkpoint.py CONFIG.yaml OUT.onnx [--weights model|ema] [--input-size N]

CONFIG is the run's recipe (its model section builds the network); the weights come from OUTPUT/last/ of that
recipe. Nothing in the run's folder is written. ``--input-size`` exports the same weights for another square
input (a multiple of 32): what a model trained at one size scores and costs at another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the run's training recipe (YAML)")
    parser.add_argument("out", type=Path, help="the package to write (.onnx)")
    parser.add_argument("--weights", choices=("ema", "model"), default="ema")
    parser.add_argument("--input-size", type=int, help="square network input in pixels (default: the recipe's)")
    args = parser.parse_args()
    import dataclasses

    from safetensors.torch import load_file

    from detector.models import build_model
    from detector.models.export import export_package, package_meta
    from trainer.config import load_config

    cfg = load_config(args.config)
    mcfg = cfg.model_config()
    mcfg = dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False))
    if args.input_size:
        if args.input_size % 32:
            raise SystemExit(f"--input-size {args.input_size}: must be a multiple of 32")
        mcfg = dataclasses.replace(mcfg, input_size=args.input_size)
    weights = Path(cfg.output) / cfg.name / "last" / f"{args.weights}.safetensors"
    if not weights.is_file():
        raise SystemExit(f"no checkpoint at {weights}")
    model = build_model(mcfg)
    state = load_file(str(weights))
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model.load_state_dict(state)
    model.eval()
    meta = package_meta(model, mcfg.input_size, name=cfg.name, source=f"{weights} (mid-run checkpoint)")
    print(f"exported {export_package(model, meta, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
