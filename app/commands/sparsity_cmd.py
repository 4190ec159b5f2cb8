"""kestrel sparsity: per-layer 2:4 compliance of a model package."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from detector.sparsity_report import sparsity_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sparsity",
        help="report per-layer 2:4 structured sparsity of a model package",
        description="For every convolution / matrix product: whether TensorRT's sparse kernels can take it "
        "(ungrouped, output channels divisible by 8, input channels by 16) and the share of its groups of 4 "
        "input-channel weights that hold at least 2 zeros (1.00 = 2:4 sparse).",
    )
    p.add_argument("package", type=Path, help="model package (.onnx)")
    p.add_argument("--all", action="store_true", help="also list layers TensorRT cannot make sparse")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rows = sparsity_report(args.package)
    eligible = [r for r in rows if r.eligible]
    sparse = [r for r in eligible if r.compliance == 1.0]
    if args.json:
        print(json.dumps({"layers": [asdict(r) for r in rows], "eligible": len(eligible), "sparse": len(sparse)}))
        return 0
    print(f"{'layer':40s} {'shape':22s} {'eligible':8s} {'2:4':>6s} {'zeros':>6s}")
    for r in rows:
        if r.eligible or args.all:
            shape = "x".join(map(str, r.shape))
            yes = "yes" if r.eligible else "no"
            print(f"{r.name[:40]:40s} {shape:22s} {yes:8s} {r.compliance:6.2f} {r.zeros:6.2f}")
    print(f"{len(sparse)} of {len(eligible)} eligible layers are 2:4 sparse ({len(rows)} weight layers in all)")
    return 0
