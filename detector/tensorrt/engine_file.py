"""The engine file: a header (magic, version, JSON with the package metadata and build facts), then the
serialized TensorRT plan. Engines are specific to GPU model, TensorRT version and OS, so the cache key
holds all three plus the package's hash and the build options; a mismatch means rebuild, never crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ModelPackageError
from ..package import PackageMeta

MAGIC = b"KESTREL-TRT"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BuildKey:
    package_sha256: str
    gpu: str
    compute_capability: str
    tensorrt: str
    precision: str  # fp32 | fp16 | int8
    sparse: bool
    batch: tuple[int, int, int]  # min, opt, max
    os: str = platform.system().lower()

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("KESTREL_CACHE", Path.home() / ".cache" / "kestrel")) / "engines"


def cache_path(package: Path, key: BuildKey, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / f"{package.stem}-{key.digest()}.engine"


def write_engine(path: Path, meta: PackageMeta, key: BuildKey, plan: bytes) -> None:
    header = json.dumps({"meta": json.loads(meta.to_json()), "key": asdict(key)}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<HI", FORMAT_VERSION, len(header)) + header + plan)
    os.replace(tmp, path)


def read_engine(path: Path) -> tuple[PackageMeta, BuildKey, bytes]:
    data = Path(path).read_bytes()
    fixed = len(MAGIC) + 6
    if not data.startswith(MAGIC) or len(data) < fixed:
        raise ModelPackageError(f"{path} is not a Kestrel engine file")
    version, length = struct.unpack("<HI", data[len(MAGIC) : fixed])
    if version != FORMAT_VERSION:
        raise ModelPackageError(f"{path}: engine file version {version}, this Kestrel reads {FORMAT_VERSION}")
    try:
        header = json.loads(data[fixed : fixed + length])
        key = header["key"]
        key["batch"] = tuple(key["batch"])
        build_key = BuildKey(**key)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelPackageError(f"{path}: corrupt engine header ({exc})") from None
    meta = PackageMeta.from_json(json.dumps(header["meta"]), str(path))
    return meta, build_key, data[fixed + length :]
