"""The service's YAML config, validated: an unknown key or a bad value is an error naming the field.

    model: assets/kestrel-lite0-320.onnx        # optional: the bundled default model; or triton://HOST:PORT/MODEL
    fallback: assets/kestrel-lite0-320.onnx     # with a triton:// model: used while the server is unreachable
    detect: {fps: 5, conf: 0.35, iou: 0.6}      # detection rate per camera, thresholds
    batch: {max_frames: 0, timeout_ms: 20}      # the shared detector's batches (0: chosen by the backend)
    http: {bind: 127.0.0.1, port: 8971}         # a non-loopback bind needs http.token
    mqtt: {host: 127.0.0.1, port: 1883, topic_prefix: kestrel}   # optional
    storage: {path: kestrel-data}
    cameras:
      door: {source: "rtsp://user:pass@cam1/stream", detect: {fps: 2}, classes: [person], rules: door.yaml}
      yard: {source: "rtsp://cam2/stream"}
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from detector.backends.triton_backend import is_triton_url
from detector.typed_config import ConfigError, from_dict, load_yaml

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class DetectConfig:
    fps: float = 5.0  # frames per second each camera is detected at (decoding runs at the camera's rate)
    conf: float = 0.35
    iou: float = 0.6

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 60:
            raise ValueError(f"fps must be in (0, 60], got {self.fps}")
        for name in ("conf", "iou"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in 0..1, got {getattr(self, name)}")


@dataclass(frozen=True)
class BatchConfig:
    """How the shared detector batches the cameras' sampled frames (see docs/service.md for the measurement)."""

    max_frames: int = 0  # 0: 1 (one call per frame) on the CPU, 8 on a GPU or Triton backend; see default_batch
    timeout_ms: float = 20.0  # a batch waits at most this long after its first frame for the other cameras

    def __post_init__(self) -> None:
        if not 0 <= self.max_frames <= 64:
            raise ValueError(f"max_frames must be in 0..64 (0: chosen by the backend), got {self.max_frames}")
        if not 0 <= self.timeout_ms <= 1000:
            raise ValueError(f"timeout_ms must be in 0..1000, got {self.timeout_ms}")


@dataclass(frozen=True)
class HttpConfig:
    bind: str = "127.0.0.1"
    port: int = 8971
    token: str = ""  # bearer token; required on every endpoint but /healthz when bound beyond loopback

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if not self.loopback and not self.token:
            raise ValueError(f"bind {self.bind} reaches beyond this machine: set http.token (a bearer token)")

    @property
    def loopback(self) -> bool:
        if self.bind == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    topic_prefix: str = "kestrel"
    username: str = ""
    password_file: str = ""  # a file holding the password (never the password itself in the config)
    qos: int = 2  # 2: exactly once to the broker, also across a broker restart; 1: at least once (may repeat)

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if self.qos not in (1, 2):
            raise ValueError(f"qos must be 1 or 2, got {self.qos}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if not re.fullmatch(r"[A-Za-z0-9_/-]+", self.topic_prefix) or self.topic_prefix.startswith("/"):
            raise ValueError(f"topic_prefix {self.topic_prefix!r}: letters, digits, '-', '_' and '/' only")


@dataclass(frozen=True)
class StorageConfig:
    path: str = "kestrel-data"
    retain_days: float = 7.0  # clips and snapshots older than this are deleted (0: kept)
    max_gb: float = 0.0  # the oldest clips and snapshots go while the folder is larger (0: no quota)

    def __post_init__(self) -> None:
        if self.retain_days < 0 or self.max_gb < 0:
            raise ValueError("retain_days and max_gb must be >= 0")


@dataclass(frozen=True)
class RecordConfig:
    events: bool = True  # a clip per object (RTSP cameras: their own stream, not re-encoded)
    pre_s: float = 5.0
    post_s: float = 5.0
    keep_s: float = 600.0  # how much of the stream the segment ring holds (the longest clip it can cut)

    def __post_init__(self) -> None:
        if not (0 <= self.pre_s <= 60 and 0 <= self.post_s <= 60):
            raise ValueError("pre_s and post_s must be in 0..60")
        if self.keep_s < self.pre_s + self.post_s + 10:
            raise ValueError(f"keep_s must be at least pre_s + post_s + 10, got {self.keep_s}")


@dataclass(frozen=True)
class CameraConfig:
    source: str
    detect: dict = field(default_factory=dict)  # overrides of the global detect section
    classes: tuple[str, ...] = ()
    rules: str | dict | None = None  # a rules file (relative to the config) or the rules inline
    record: RecordConfig = field(default_factory=RecordConfig)


@dataclass(frozen=True)
class ServiceConfig:
    cameras: dict[str, CameraConfig]
    model: str = ""  # a model package, or triton://HOST:PORT/MODEL
    fallback: str = ""  # with a triton:// model: the local package used while the server is unreachable
    detect: DetectConfig = field(default_factory=DetectConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    mqtt: MqttConfig | None = None
    storage: StorageConfig = field(default_factory=StorageConfig)
    base: Path = Path(".")  # the config file's folder: relative paths in it are relative to it

    def camera_detect(self, name: str) -> DetectConfig:
        merged = {"fps": self.detect.fps, "conf": self.detect.conf, "iou": self.detect.iou,
                  **self.cameras[name].detect}  # fmt: skip
        return from_dict(DetectConfig, merged, f"cameras.{name}.detect")

    def model_ref(self) -> str | Path | None:
        """The model: a triton:// URL as it is, a package relative to the config's folder, None for the default."""
        if not self.model:
            return None
        return self.model if is_triton_url(self.model) else self.path(self.model)

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p


def load_service_config(path: str | Path) -> ServiceConfig:
    path = Path(path)
    data = load_yaml(str(path))
    if "base" in data:
        raise ConfigError(f"{path}: base: unknown field")
    cameras = data.pop("cameras", None)
    if not isinstance(cameras, dict) or not cameras:
        raise ConfigError(f"{path}: cameras: expected at least one camera, as NAME: {{source: ...}}")
    parsed = {}
    for name, camera in cameras.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise ConfigError(f"cameras.{name}: a camera name is 1-64 letters, digits, '-' or '_'")
        parsed[name] = from_dict(CameraConfig, camera, f"cameras.{name}")
    config = from_dict(ServiceConfig, {**data, "cameras": {}}, "")
    config = ServiceConfig(parsed, config.model, config.fallback, config.detect, config.batch, config.http,
                           config.mqtt, config.storage, path.parent)  # fmt: skip
    if config.fallback and not is_triton_url(config.model):
        raise ConfigError("fallback: only a triton:// model has a fallback (model is a local package)")
    if config.fallback and not config.path(config.fallback).is_file():
        raise ConfigError(f"fallback: {config.fallback} not found")
    if config.mqtt and config.mqtt.password_file and not config.path(config.mqtt.password_file).is_file():
        raise ConfigError(f"mqtt.password_file: {config.mqtt.password_file} not found")
    for name in parsed:
        config.camera_detect(name)  # every camera's merged detect section is valid
    return config
