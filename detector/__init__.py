"""Kestrel's detector. The runtime part (this namespace) never imports torch."""

from .detections import Detections
from .detector import Detector
from .errors import KestrelError
from .package import PackageMeta, read_meta

__all__ = ["Detections", "Detector", "KestrelError", "PackageMeta", "read_meta"]
