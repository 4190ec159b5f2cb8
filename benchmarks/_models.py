"""What the model benchmarks and the model report share: the teacher as a package, one end-to-end detection
step for latency rounds, and the two validation sets."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TEACHER_PARAM = SHARED / "weights" / "nanodet" / "nanodet-plus-m_416.param"


def teacher_package() -> Path:
    """NanoDet-Plus-m-416 from ../shared, imported into build/models once."""
    from detector.ncnn.importer import import_ncnn

    package = ROOT / "build" / "models" / "nanodet-plus-m_416.onnx"
    if not package.exists():
        import_ncnn(TEACHER_PARAM, package)
    return package


def e2e_step(package: str, threads: int):
    """Pre-processing, network, decode and NMS on one 640x360 frame (a Worker factory: runs in its process)."""
    import numpy as np

    from detector import Detector

    det = Detector.load(package, backend="onnxruntime", threads=threads, conf=0.35)
    frame = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    return lambda: det(frame)


def validation_sets() -> dict:
    """COCO tiny val and highway-od val, never trained on."""
    from trainer.coco_eval import CocoSplit

    return {"coco_tiny": CocoSplit(SHARED / "data/coco/tiny/annotations/instances_val2017.json",
                                   SHARED / "data/coco/tiny/val2017"),
            "highway_od": CocoSplit(SHARED / "data/highway-od/annotations/instances_val.json",
                                    SHARED / "data/highway-od/val")}  # fmt: skip


def latency_rows(models: dict[str, Path], threads: int, rounds: int) -> list[dict]:
    """End-to-end latency of each package, each in its own process, in interleaved rounds of 20 frames;
    summarise()'s rows, the first model the reference."""
    from benchmarks._workers import Worker, interleave, summarise

    workers = [Worker(name, e2e_step, str(pkg), threads) for name, pkg in models.items()]
    try:
        samples = interleave(workers, rounds, 20)
    finally:
        for w in workers:
            w.close()
    return summarise(samples, reference=next(iter(models)))
