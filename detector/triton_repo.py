"""A Triton Inference Server model repository from a model package.

    REPO/NAME/config.pbtxt      inputs, outputs, dynamic batching, instances, Kestrel's metadata as a parameter
    REPO/NAME/1/model.onnx      the package itself

``backend="onnxruntime"`` (the default) is for NVIDIA's server builds, whose ONNX Runtime backend runs the
graph. ``backend="python"`` adds ``1/model.py``, a Triton Python-backend model that runs the same file with ONNX
Runtime: for servers built without that backend (the ``tritonserver`` in PyPI's nvidia-pytriton wheel). Either
way the client needs only the URL: the package metadata travels in the model config's ``kestrel_meta``
parameter, the same JSON the package holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .errors import KestrelError
from .package import METADATA_KEY, read_meta

META_PARAMETER = "kestrel_meta"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

PYTHON_MODEL = '''"""Triton Python-backend model written by `kestrel export --format triton --triton-backend
python`: runs model.onnx with ONNX Runtime; the requests of one dynamic batch go through one session run."""

import os
import sys

# the server's Python imports numpy and onnxruntime from its own environment; KESTREL_TRITON_SITE (folders,
# ':'-separated, in the server's environment) adds site-packages of another one
sys.path[:0] = [p for p in os.environ.get("KESTREL_TRITON_SITE", "").split(":") if p]

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        here = os.path.join(args["model_repository"], args["model_version"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("KESTREL_TRITON_THREADS", "0"))
        self.session = ort.InferenceSession(os.path.join(here, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])

    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, "{input}").as_numpy() for r in requests]
        out = self.session.run(["{output}"], {{"{input}": np.concatenate(arrays)}})[0]
        responses, start = [], 0
        for a in arrays:
            tensor = pb_utils.Tensor("{output}", np.ascontiguousarray(out[start:start + len(a)]))
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start += len(a)
        return responses
'''


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(name: str, meta_json: str, input_name: str, output_name: str, input_dims: list[int],
                output_dims: list[int], backend: str, max_batch: int, queue_delay_us: int,
                instances: int) -> str:  # fmt: skip
    dims = ", ".join
    return (
        f"name: {_quote(name)}\n"
        f"backend: {_quote(backend)}\n"
        f"max_batch_size: {max_batch}\n"
        f"input [ {{ name: {_quote(input_name)} data_type: TYPE_FP32 dims: [ {dims(map(str, input_dims))} ] }} ]\n"
        f"output [ {{ name: {_quote(output_name)} data_type: TYPE_FP32 dims: [ {dims(map(str, output_dims))} ] }} ]\n"
        f"dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}\n"
        f"instance_group [ {{ count: {instances} kind: KIND_CPU }} ]\n"
        f"parameters {{ key: {_quote(META_PARAMETER)} value: {{ string_value: {_quote(meta_json)} }} }}\n"
    )


def write_repository(package: Path, repo: Path, name: str | None = None, backend: str = "onnxruntime",
                     max_batch: int = 8, queue_delay_us: int = 2000, instances: int = 1,
                     overwrite: bool = False) -> Path:  # fmt: skip
    """Write the repository; returns the model's folder."""
    import onnx

    if backend not in ("onnxruntime", "python"):
        raise KestrelError(f"triton backend must be onnxruntime or python, got {backend!r}")
    if not 1 <= max_batch <= 256 or queue_delay_us < 0 or instances < 1:
        raise KestrelError("triton export needs 1 <= max batch <= 256, queue delay >= 0, instances >= 1")
    meta = read_meta(package)
    name = name or meta.name
    if not NAME.match(name):
        raise KestrelError(f"triton model name {name!r}: letters, digits, '_', '.', '-' only")
    graph = onnx.load(str(package), load_external_data=False).graph
    shape = [[d.dim_value or -1 for d in v.type.tensor_type.shape.dim] for v in (graph.input[0], graph.output[0])]
    if shape[0][0] != -1 or shape[1][0] != -1:
        raise KestrelError(f"{package}: the graph's batch dimension is fixed; Triton's batching needs it dynamic")
    folder = repo / name
    if folder.exists():
        if not overwrite:
            raise KestrelError(f"{folder} exists: pass --overwrite to replace it")
        shutil.rmtree(folder)
    (folder / "1").mkdir(parents=True)
    shutil.copyfile(package, folder / "1" / "model.onnx")
    props = {p.key: p.value for p in onnx.load(str(package), load_external_data=False).metadata_props}
    text = config_text(name, props.get(METADATA_KEY, meta.to_json()), graph.input[0].name,
                       graph.output[0].name, shape[0][1:], shape[1][1:], backend, max_batch, queue_delay_us,
                       instances)  # fmt: skip
    (folder / "config.pbtxt").write_text(text)
    if backend == "python":
        source = PYTHON_MODEL.replace("{input}", graph.input[0].name).replace("{output}", graph.output[0].name)
        (folder / "1" / "model.py").write_text(source.replace("{{", "{").replace("}}", "}"))
    return folder
