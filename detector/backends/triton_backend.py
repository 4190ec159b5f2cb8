"""A Triton Inference Server as the backend: ``triton://HOST:PORT/MODEL`` (gRPC, port 8001 by default) or
``triton+http://HOST:PORT/MODEL`` (HTTP, 8000). The package metadata comes from the model's config (the
``kestrel_meta`` parameter `kestrel export --format triton` writes), so the URL is all a client needs. A batch
larger than the model's ``max_batch_size`` goes as several requests; each request has a deadline."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import numpy as np

from ..errors import BackendError, ModelPackageError
from ..package import PackageMeta, meta_from_props
from .base import Backend

SCHEMES = {"triton": ("grpc", 8001), "triton+grpc": ("grpc", 8001), "triton+http": ("http", 8000)}
META_PARAMETER = "kestrel_meta"


def is_triton_url(text: object) -> bool:
    return isinstance(text, str) and text.split("://", 1)[0] in SCHEMES and "://" in text


def parse_url(url: str) -> tuple[str, str, str]:
    """(protocol, host:port, model) of a triton:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise BackendError(f"{url}: expected triton://HOST:PORT/MODEL or triton+http://HOST:PORT/MODEL")
    protocol, default_port = SCHEMES[parts.scheme]
    model = parts.path.strip("/")
    if not parts.hostname or not model or "/" in model:
        raise BackendError(f"{url}: expected {parts.scheme}://HOST:PORT/MODEL (one model name)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return protocol, f"{host}:{parts.port or default_port}", model


class TritonBackend(Backend):
    name = "triton"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        super().__init__(url)  # type: ignore[arg-type] - a URL, not a file
        self.url, self.timeout = url, float(timeout)
        self.protocol, self.address, self.model = parse_url(url)
        try:
            if self.protocol == "grpc":
                import tritonclient.grpc as client
            else:
                import tritonclient.http as client
        except ImportError as exc:
            raise BackendError(f"the triton backend needs tritonclient (pip install 'kestrel-vision[triton]'): "
                               f"{exc}") from None  # fmt: skip
        self.client_module = client
        timeouts = {} if self.protocol == "grpc" else {"connection_timeout": self.timeout,
                                                       "network_timeout": self.timeout}  # fmt: skip
        self.client = client.InferenceServerClient(url=self.address, **timeouts)
        config = self._call(lambda: self.client.get_model_config(self.model, **self._as_json()))
        config = config.get("config", config)
        params = config.get("parameters", {})
        if META_PARAMETER not in params:
            raise ModelPackageError(f"{url}: the model's config has no {META_PARAMETER} parameter; export it with "
                                    "`kestrel export PKG --format triton`")  # fmt: skip
        self._meta = meta_from_props({"kestrel": params[META_PARAMETER]["string_value"]}, url)
        self.input_name = config["input"][0]["name"]
        self.output_name = config["output"][0]["name"]
        self.max_batch = int(config.get("max_batch_size", 0)) or 1

    def _as_json(self) -> dict:
        return {"as_json": True} if self.protocol == "grpc" else {}

    def _call(self, fn):
        from tritonclient.utils import InferenceServerException

        try:
            return fn()
        except InferenceServerException as exc:
            down = "UNAVAILABLE" in str(exc.status()) or "failed to connect" in (exc.message() or "")
            what = "unreachable" if down else f"({self.model})"
            raise BackendError(f"triton server {self.address} {what}: {exc.message()}") from None
        except Exception as exc:  # noqa: BLE001 - gevent/grpc raise their own connection errors
            raise BackendError(f"triton server {self.address} unreachable: {type(exc).__name__}: "
                               f"{str(exc)[:200]}") from None  # fmt: skip

    @property
    def meta(self) -> PackageMeta:
        return self._meta

    def infer(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, np.float32)
        parts = [self._infer(batch[i : i + self.max_batch]) for i in range(0, len(batch), self.max_batch)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        c = self.client_module
        tensor = c.InferInput(self.input_name, list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        wanted = [c.InferRequestedOutput(self.output_name)]
        if self.protocol == "grpc":
            result = self._call(lambda: self.client.infer(self.model, [tensor], outputs=wanted,
                                                          client_timeout=self.timeout))  # fmt: skip
        else:
            result = self._call(lambda: self.client.infer(self.model, [tensor], outputs=wanted))
        return result.as_numpy(self.output_name)

    def health(self) -> dict:
        """Server liveness and readiness, and this model's readiness."""
        return {"live": self._call(self.client.is_server_live), "ready": self._call(self.client.is_server_ready),
                "model_ready": self._call(lambda: self.client.is_model_ready(self.model))}  # fmt: skip

    def describe(self) -> str:
        return f"triton ({self.protocol} {self.address}, model {self.model})"

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection
            self.client.close()
