"""FP16 model packages: weights and arithmetic in half precision, inputs and outputs kept float32.

TensorRT 10.12+ builds strongly typed networks and TensorRT 11 has no FP16 builder flag: FP16 has to
come from the ONNX itself, which is what this writes.
"""

from __future__ import annotations

from pathlib import Path

from .errors import KestrelError
from .package import meta_from_props, write_meta


def to_fp16_package(source: str | Path, output: str | Path) -> Path:
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise KestrelError("FP16 export needs onnxconverter-common: pip install 'kestrel-vision[gpu]'") from None
    from .onnx_graph import name_unnamed_nodes

    model = name_unnamed_nodes(onnx.load(str(source)))
    del model.graph.value_info[:]  # stale fp32 annotations confuse the converter's casts around Resize
    meta = meta_from_props({p.key: p.value for p in model.metadata_props}, str(source))
    import warnings

    with warnings.catch_warnings():  # it warns once per weight that fp16 clips to its range
        warnings.simplefilter("ignore")
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    write_meta(half, meta.with_changes(extra={**meta.extra, "precision": "fp16"}))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(half, str(output))
    return output
