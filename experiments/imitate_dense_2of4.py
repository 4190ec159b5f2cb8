"""Experiment: retrain a 2:4 student to imitate its own dense start block by block (hints everywhere).

The stage-2 recipe retrains the pruned student against the NanoDet-Plus teacher. This experiment instead
asks the pruned student to reproduce the dense student's output at every block (37 points: each backbone
MBConv block, every Ghost-PAN module, every head conv and output), each squared error divided by the
dense output's variance — the direct route to "sparse within 0.02 of dense", with no labels needed.
Prints one JSON line per evaluation (tiny val). Measured in docs/measurements/cpu-2of4-dense-imitation-lite0-320.json:

    .venv/bin/python experiments/imitate_dense_2of4.py configs/default-lite0-320-2of4.yaml --lr 1e-4 --epochs 12
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from trainer.config import load_config  # noqa: E402
from trainer.loop import Trainer, collate  # noqa: E402
from trainer.sparsity import apply_masks  # noqa: E402

HINTS = re.compile(
    r"^(backbone\.body\.blocks\.\d+\.\d+|fpn\.(reduce_layers|top_down_blocks|downsamples|bottom_up_blocks)\.\d+"
    r"|head\.cls_convs\.\d+\.\d+|head\.(gfl_cls|dgqp)\.\d+)$"
)


def record_outputs(model: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    store: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    for n in names:
        modules[n].register_forward_hook(lambda _m, _a, out, n=n: store.__setitem__(n, out))
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="a 2:4 recipe (sparsity.enabled, sparsity.init = the dense start)")
    ap.add_argument("--lr", type=float, default=1e-4, help="AdamW peak learning rate (cosine, 20 warm-up steps)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--reconstruct", type=int, default=128, metavar="N",
                    help="calibration images for the layer-wise reconstruction start (0: magnitude masks)")  # fmt: skip
    ap.add_argument("--eval-every", type=int, default=2, metavar="E")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        overrides = [f"sparsity.reconstruct_images={args.reconstruct}", f"output={out}", "resume=false"]
        tr = Trainer(load_config(args.config, overrides), progress=sys.stderr.isatty())
        dense = copy.deepcopy(tr.model).eval()
        from safetensors.torch import load_file

        dense.load_state_dict(load_file(tr.cfg.sparsity.init))
        dense.requires_grad_(False)
        names = [n for n, _ in tr.model.named_modules() if HINTS.match(n)]
        got, want = record_outputs(tr.model, names), record_outputs(dense, names)
        params = [p for p in tr.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
        total, step = args.epochs * tr.steps_per_epoch, 0

        def evaluate(epoch: int, loss: float | None) -> None:
            m = tr.evaluate()
            print(json.dumps({"epoch": epoch, "lr": args.lr, "hint_loss": loss, "hints": len(names),
                              "mAP": round(m["mAP"], 4), "AP50": round(m["AP50"], 4)}), flush=True)  # fmt: skip

        evaluate(0, None)
        for epoch in range(args.epochs):
            tr.dataset.set_epoch(epoch)
            loader = DataLoader(tr.dataset, batch_sampler=tr.batches(epoch), collate_fn=collate, num_workers=1)
            tr.model.train()
            for m in tr.model.modules():  # BN statistics stay frozen, as in the recipe
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
            t0, running = time.perf_counter(), 0.0
            for images, _, _ in loader:
                factor = step / 20 if step < 20 else 0.5 * (1 + math.cos(math.pi * step / total))
                for g in opt.param_groups:
                    g["lr"] = args.lr * factor
                x = (images.permute(0, 3, 1, 2).float() - tr.mean) / tr.std
                with torch.no_grad():
                    dense(x)
                tr.model(x)
                loss = sum(((got[n] - want[n]) ** 2).mean() / (want[n].var() + 1e-6) for n in names) / len(names)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 35.0)
                opt.step()
                apply_masks(tr.model, tr.masks)
                tr.ema.update(tr.model)
                apply_masks(tr.ema.ema, tr.masks)
                running += float(loss.detach())
                step += 1
            mean_loss = round(running / tr.steps_per_epoch, 4)
            print(f"epoch {epoch + 1}: hint loss {mean_loss} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
                evaluate(epoch + 1, mean_loss)


if __name__ == "__main__":
    main()
