"""One-shot 2:4 pruning of a stage-2 recipe's dense start, evaluated with no retraining.

Builds the trainer of a 2:4 recipe (which loads ``sparsity.init`` and prunes it: by magnitude, or by
layer-wise reconstruction when ``--reconstruct N`` is given), then evaluates on the recipe's val split and
prints one JSON line. Example (the numbers in docs/measurements/cpu-2of4-reconstruction-lite0-320.json):

    .venv/bin/python experiments/oneshot_2of4.py configs/default-lite0-320-2of4.yaml --reconstruct 128
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.config import load_config  # noqa: E402
from trainer.loop import Trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="a 2:4 recipe (sparsity.enabled, sparsity.init)")
    ap.add_argument("--reconstruct", type=int, default=0, metavar="N",
                    help="calibration images for layer-wise reconstruction (0: magnitude masks)")  # fmt: skip
    ap.add_argument("--skip", nargs="*", default=[], metavar="PREFIX", help="layer-name prefixes left dense")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        overrides = [f"sparsity.reconstruct_images={args.reconstruct}", f"output={out}", "resume=false"]
        if args.skip:
            overrides.append("sparsity.skip=[" + ",".join(args.skip) + "]")
        t0 = time.perf_counter()
        trainer = Trainer(load_config(args.config, overrides), progress=sys.stderr.isatty())
        pruned_s = time.perf_counter() - t0
        metrics = trainer.evaluate()
    print(json.dumps({"config": args.config, "reconstruct_images": args.reconstruct, "skip": args.skip,
                      "layers_masked": len(trainer.masks), "setup_and_pruning_s": round(pruned_s, 1),
                      **{k: round(v, 4) for k, v in metrics.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
