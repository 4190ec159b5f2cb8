"""Parser for ncnn's text .param format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelImportError

MAGIC = "7767517"
ParamValue = int | float | list[int] | list[float]


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)
    line: int = 0

    def get(self, key: int, default: ParamValue) -> ParamValue:
        return self.params.get(key, default)

    def array(self, key: int) -> list | None:
        """Array parameters are written with key -23300 - key."""
        return self.params.get(-23300 - key)  # type: ignore[return-value]


def _number(text: str) -> int | float:
    return float(text) if any(ch in text for ch in ".eE") else int(text)


def _parse_value(key: int, text: str) -> ParamValue:
    if key <= -23300:
        count, *items = text.split(",")
        values = [_number(v) for v in items]
        if len(values) != int(count):
            raise ValueError(f"array declares {count} values but has {len(values)}")
        return values
    return _number(text)


def parse_param(path: str | Path) -> list[NcnnLayer]:
    """Layers of an ncnn .param file, in file order (which ncnn guarantees is topological)."""
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"ncnn param file not found: {path}")
    lines = path.read_text(errors="replace").splitlines()
    if not lines or lines[0].strip() != MAGIC:
        raise ModelImportError(f"{path} is not an ncnn text .param file (first line is not {MAGIC})")
    try:
        layer_count = int(lines[1].split()[0])
    except (IndexError, ValueError):
        raise ModelImportError(f"{path}:2: expected 'layer_count blob_count'") from None
    layers = []
    for lineno, text in enumerate(lines[2:], start=3):
        if not text.strip():
            continue
        tokens = text.split()
        try:
            ltype, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
            inputs = tokens[4 : 4 + n_in]
            outputs = tokens[4 + n_in : 4 + n_in + n_out]
            if len(outputs) != n_out:
                raise ValueError("fewer blob names than declared")
            params = {}
            for item in tokens[4 + n_in + n_out :]:
                key_text, value_text = item.split("=", 1)
                key = int(key_text)
                params[key] = _parse_value(key, value_text)
        except (IndexError, ValueError) as exc:
            raise ModelImportError(f"{path}:{lineno}: malformed layer line ({exc})") from None
        layers.append(NcnnLayer(ltype, name, inputs, outputs, params, lineno))
    if len(layers) != layer_count:
        raise ModelImportError(f"{path}: header says {layer_count} layers, file has {len(layers)}")
    return layers
