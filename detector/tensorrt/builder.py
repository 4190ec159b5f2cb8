"""Build a TensorRT engine from a model package through the TensorRT Python API.

FP16: a strongly typed network from an FP16 ONNX (``detector.precision``), since TensorRT 10.12+ is
strongly typed and 11 dropped the FP16 flag. 2:4: ``BuilderFlag.SPARSE_WEIGHTS`` (Ampere or newer) for
weights that already hold the pattern. INT8: entropy calibration over real images (TensorRT <= 10).
Dynamic batch through one optimisation profile; a timing cache beside the engine cache.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import BackendError, KestrelError
from ..onnx_graph import file_sha256
from ..package import read_meta
from ..preprocess import Preprocessor
from .engine_file import BuildKey, cache_dir, write_engine


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendError("TensorRT is not installed here (it needs NVIDIA's own package index)") from None
    return trt


def gpu_identity() -> tuple[str, str]:
    from .cuda import _cudart, check

    rt = _cudart()
    props = check(rt.cudaGetDeviceProperties(0))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.strip("\x00"), f"{props.major}.{props.minor}"


def build_key(package: Path, precision: str, sparse: bool, batch: tuple[int, int, int]) -> BuildKey:
    trt = import_tensorrt()
    gpu, cc = gpu_identity()
    return BuildKey(file_sha256(package), gpu, cc, trt.__version__, precision, sparse, batch)


def build_engine(package: Path, output: Path, fp16: bool = False, sparse: bool = False, int8: bool = False,
                 calib: list[Path] | None = None, batch: tuple[int, int, int] = (1, 1, 8),
                 verbose: bool = False) -> Path:  # fmt: skip
    trt = import_tensorrt()
    meta = read_meta(package)
    precision = "int8" if int8 else "fp16" if fp16 else "fp32"
    key = build_key(package, precision, sparse, batch)
    onnx_path = package
    if fp16:
        from ..precision import to_fp16_package

        onnx_path = to_fp16_package(package, Path(tempfile.mkdtemp()) / "fp16.onnx")
    logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strongly_typed = fp16 and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise KestrelError(f"TensorRT cannot parse {package}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if fp16 and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if sparse:
        config.set_flag(trt.BuilderFlag.SPARSE_WEIGHTS)
    if int8:
        if not calib:
            raise KestrelError("INT8 needs calibration images (--calib DIR)")
        from .calibrator import make_calibrator

        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = make_calibrator(trt, calib, Preprocessor(meta), batch[1],
                                                 output.with_suffix(".calib"))  # fmt: skip
    profile = builder.create_optimization_profile()
    name = network.get_input(0).name
    chw = (3, meta.input_height, meta.input_width)
    profile.set_shape(name, (batch[0], *chw), (batch[1], *chw), (batch[2], *chw))
    config.add_optimization_profile(profile)
    timing_path = cache_dir() / f"timing-{key.gpu.replace(' ', '_')}-{key.tensorrt}.cache"
    timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.exists() else b"")
    config.set_timing_cache(timing, ignore_mismatch=True)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise KestrelError(f"TensorRT failed to build an engine for {package}")
    timing_path.parent.mkdir(parents=True, exist_ok=True)
    timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    write_engine(output, meta, key, bytes(plan))
    return output
