"""kestrel train: train a detector from a YAML recipe (needs the train extra)."""

from __future__ import annotations

import argparse

from detector.errors import KestrelError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a detector from a YAML recipe",
        description="Train from a YAML recipe, adjusted by key=value overrides (e.g. optim.lr=0.01 "
        "data.augment.mosaic=0). Resumes from <output>/<name>/last when it exists; Ctrl-C saves and stops. "
        "Ends by exporting the best checkpoint (eval.keep: last - the final weights; optim.average_from: E - "
        "the mean of the epoch-end weights from epoch E on) as a model package. A recipe can start from "
        "another with 'extends: OTHER.yaml'. Multi-GPU: torchrun --nproc_per_node N -m app.cli train CONFIG.",
    )
    p.add_argument("config", help="recipe YAML (see configs/)")
    p.add_argument("overrides", nargs="*", help="key=value changes to the recipe")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from trainer.config import load_config
        from trainer.loop import Trainer
    except ImportError as exc:
        raise KestrelError(f"training needs torch ({exc}); pip install 'kestrel-vision[train]'") from None
    cfg = load_config(args.config, args.overrides)
    save_on_stop_signals()
    path = Trainer(cfg, progress=not args.no_progress).fit()
    if path is not None:
        print(f"model package: {path}")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def save_on_stop_signals() -> None:
    """SIGTERM (a service manager, `kill`) and SIGINT stop training the way Ctrl-C does: save, then exit.

    SIGINT is re-armed too: a shell starts background jobs with SIGINT ignored, and `kill -INT` must not
    then be a no-op that leaves the run going.
    """
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
