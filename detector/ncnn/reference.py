"""Runs original ncnn files with PyPI ``ncnn`` — the reference the importer is checked against.

Only tests and benchmarks use this; ``ncnn`` is a dev dependency, not a runtime one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class NcnnReference:
    """An ncnn Net returning the same [P, D] layout as an imported package, for one CHW input."""

    def __init__(self, param: str | Path, threads: int = 2, exact: bool = True) -> None:
        import ncnn

        self.ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        if exact:  # keep everything in fp32 so differences are the importer's, not ncnn's storage
            for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage"):
                setattr(self.net.opt, flag, False)
        param = Path(param)
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(param.with_suffix(".bin"))) != 0:
            raise RuntimeError(f"ncnn could not load {param}")
        self.output_names = list(self.net.output_names())
        self.input_name = self.net.input_names()[0]

    def __call__(self, chw: np.ndarray) -> np.ndarray:
        ex = self.net.create_extractor()
        ex.input(self.input_name, self.ncnn.Mat(np.ascontiguousarray(chw, np.float32)))
        if self.output_names == ["output"]:
            return np.array(ex.extract("output")[1])
        levels = sorted(int(n[3:]) for n in self.output_names if n.startswith("cls"))
        parts = []
        for s in levels:
            cls = np.array(ex.extract(f"cls{s}")[1])  # [C, h, w]
            dis = np.array(ex.extract(f"dis{s}")[1])  # [h, w, D]
            parts.append(np.concatenate([cls.reshape(cls.shape[0], -1).T, dis.reshape(-1, dis.shape[-1])], 1))
        return np.concatenate(parts)
