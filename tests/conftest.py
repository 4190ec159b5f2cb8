"""Shared fixtures: paths into ../shared (skipped with a reason when absent) and imported packages."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "nanodet"
COCO_TINY = SHARED / "data" / "coco" / "tiny"


def need_shared(*parts: str) -> Path:
    """Path under ../shared, or skip the test with a clear reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (the project's shared data), which is absent here")
    return path


@pytest.fixture(scope="session")
def packages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packages")


@pytest.fixture(scope="session")
def plus416(packages_dir: Path) -> Path:
    """NanoDet-Plus-m 416 (official single-output ncnn layout) imported as a package."""
    from detector.ncnn.importer import import_ncnn

    out = packages_dir / "nanodet-plus-m_416.onnx"
    if not out.exists():
        import_ncnn(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), out)
    return out


@pytest.fixture(scope="session")
def plus320(packages_dir: Path) -> Path:
    """NanoDet-Plus-m 320 (pnnx per-level layout) imported as a package."""
    from detector.ncnn.importer import import_ncnn

    out = packages_dir / "nanodet-plus-m_320.onnx"
    if not out.exists():
        import_ncnn(need_shared("weights", "nanodet", "nanodet-plus-m_320.param"), out)
    return out


@pytest.fixture(scope="session")
def m320(packages_dir: Path) -> Path:
    """NanoDet-m 320 PyTorch Lightning checkpoint imported as a package."""
    from detector.models.import_checkpoint import import_checkpoint

    out = packages_dir / "nanodet-m_320.onnx"
    if not out.exists():
        import_checkpoint(need_shared("weights", "nanodet", "nanodet-m_320.ckpt"), out)
    return out


@pytest.fixture(scope="session")
def tiny_val_images() -> list[Path]:
    return sorted(need_shared("data", "coco", "tiny", "val2017").glob("*.jpg"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Analysis caches (XDG_CACHE_HOME) go to a folder of the test run, never the user's ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("cache")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    return folder
