"""Does re-estimating BatchNorm statistics help a retrained 2:4 model? Evaluates it before and after.

Stage 2 trains with BN statistics frozen at the dense model's values. This loads a retrained 2:4 model's
weights (``model.safetensors`` of a run) into a 2:4 recipe's trainer, evaluates, re-estimates every BN's
running mean/variance on N un-augmented training images (weights untouched, masks intact), evaluates
again, and prints one JSON line. Example (measured: 0.138 -> 0.027, the weights rely on the old stats):

    .venv/bin/python experiments/recalibrate_bn_2of4.py runs/default-lite0-320-2of4-120ep/model.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from trainer.config import load_config  # noqa: E402
from trainer.loop import Trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", help="a retrained 2:4 model's model.safetensors")
    ap.add_argument("--config", default="configs/default-lite0-320-2of4.yaml", help="the 2:4 recipe it came from")
    ap.add_argument("--images", type=int, default=320, help="training images for the new statistics")
    args = ap.parse_args()
    if not Path(args.weights).is_file():
        sys.exit(f"recalibrate_bn_2of4: error: {args.weights}: no such file")
    with tempfile.TemporaryDirectory() as out:
        overrides = [f"sparsity.init={args.weights}", f"output={out}", "resume=false"]
        trainer = Trainer(load_config(args.config, overrides), progress=sys.stderr.isatty())
        trainer.ema = None  # evaluate trainer.model itself
        before = trainer.evaluate()
        norms = [m for m in trainer.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over all batches
        trainer.model.train()
        with torch.no_grad():
            for batch in trainer._plain_images(args.images):
                trainer.model((batch.permute(0, 3, 1, 2).float() - trainer.mean) / trainer.std)
        trainer.model.eval()
        after = trainer.evaluate()
    print(json.dumps({"weights": args.weights, "images": args.images, "bn_layers": len(norms),
                      "before": {k: round(v, 4) for k, v in before.items()},
                      "after": {k: round(v, 4) for k, v in after.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
