"""Experiment: where does a 2:4 student lose its mAP? Put one group's dense weights back, evaluate.

Loads a 2:4 state dict (safetensors, same architecture as the recipe) and, for each group of layers in turn,
replaces that group's weights with the dense start's (``sparsity.init``) and evaluates on the recipe's val
split. Meaningful for a student trained to imitate the dense one block by block (every block then stands in
for its dense twin). Also prints each group's share of the 2:4-eligible FLOPs at the input size — what
keeping the group dense would give up on a sparse GPU kernel. One JSON line per group:

    .venv/bin/python experiments/restore_groups_2of4.py configs/default-lite0-320-2of4.yaml SPARSE.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from trainer.config import load_config  # noqa: E402
from trainer.loop import Trainer  # noqa: E402
from trainer.sparsity import is_eligible  # noqa: E402

GROUPS = {
    "backbone blocks 0-2": ("backbone.body.blocks.0.", "backbone.body.blocks.1.", "backbone.body.blocks.2."),
    "backbone block 3": ("backbone.body.blocks.3.",),
    "backbone block 4": ("backbone.body.blocks.4.",),
    "backbone block 5": ("backbone.body.blocks.5.",),
    "backbone block 6": ("backbone.body.blocks.6.",),
    "Ghost-PAN reduce layers": ("fpn.reduce_layers.",),
    "Ghost-PAN blocks": ("fpn.top_down", "fpn.downsamples", "fpn.bottom_up"),
    "head": ("head.",),
}


def eligible_flops(model: torch.nn.Module, size: int) -> dict[str, int]:
    flops: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, _a, o, n=n: flops.__setitem__(n, o.shape[2] * o.shape[3]
                                                                                * mod.weight.numel()))
             for n, m in model.named_modules() if is_eligible(m)]  # fmt: skip
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="the 2:4 recipe the model came from (its sparsity.init is the dense start)")
    ap.add_argument("sparse", help="the 2:4 model's state dict (.safetensors)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        overrides = [f"output={out}", "resume=false", "sparsity.enabled=false"]
        tr = Trainer(load_config(args.config, overrides), progress=False)
        sparse, dense = load_file(args.sparse), load_file(tr.cfg.sparsity.init)
        flops = eligible_flops(tr.model.eval(), tr.mcfg.input_size)
        total = sum(flops.values())
        model = tr.deploy_model()
        for label, prefixes in {"none": (), **GROUPS}.items():
            mixed = {k: dense[k] if prefixes and k.startswith(prefixes) else v for k, v in sparse.items()}
            model.load_state_dict(mixed)
            m = tr.evaluate()
            share = sum(f for n, f in flops.items() if prefixes and n.startswith(prefixes)) / total
            print(json.dumps({"dense_group": label, "eligible_flops_share": round(share, 3),
                              "mAP": round(m["mAP"], 4), "AP50": round(m["AP50"], 4)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
