"""Detector: a model package + a backend -> Detections for BGR frames."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .backends import Backend, open_backend
from .backends.triton_backend import is_triton_url
from .decode import GflDecoder
from .detections import Detections
from .errors import ModelPackageError
from .nms import batched_nms, suppress_across_classes
from .package import PackageMeta
from .preprocess import InputTransform, Preprocessor


class Detector:
    """Callable on one HxWx3 uint8 BGR frame (-> Detections) or a list of them (-> list).

    Thresholds are plain attributes: changing ``conf`` or ``iou`` applies on the next call.
    """

    def __init__(
        self,
        backend: Backend,
        conf: float = 0.35,
        iou: float = 0.6,
        max_det: int = 100,
        classes: Iterable[int | str] | None = None,
        pre_nms_topk: int = 1000,
        label_iou: float | None = None,
    ) -> None:
        """``label_iou``: None keeps NanoDet's multi-label output (one box may carry several classes, as COCO
        scoring expects); a number keeps one label per object, dropping any box that overlaps a better box of
        another class at that IoU or more (what an application shows and counts)."""
        self.backend = backend
        self.label_iou = label_iou
        self.meta: PackageMeta = backend.meta
        self.conf, self.iou, self.max_det, self.pre_nms_topk = conf, iou, max_det, pre_nms_topk
        self.classes = classes
        self._pre = Preprocessor(self.meta)
        self._decoder = GflDecoder(self.meta)

    @classmethod
    def load(cls, path: str | Path, backend: str = "auto", **options: object) -> Detector:
        """Open a model package — or a model on a Triton server, ``triton://HOST:PORT/MODEL`` (gRPC) or
        ``triton+http://HOST:PORT/MODEL``. ``options`` go to the Detector (conf, iou, ...) or the backend."""
        det_keys = {"conf", "iou", "max_det", "classes", "pre_nms_topk", "label_iou"}
        det_opts = {k: v for k, v in options.items() if k in det_keys}
        backend_opts = {k: v for k, v in options.items() if k not in det_keys}
        if is_triton_url(str(path)):
            from .backends.triton_backend import TritonBackend

            detector = cls(TritonBackend(str(path), **backend_opts), **det_opts)
            detector.verify(str(path))
            return detector
        path = Path(path)
        if not path.is_file():
            raise ModelPackageError(f"model package not found: {path}")
        detector = cls(open_backend(path, backend, **backend_opts), **det_opts)
        detector.verify(str(path))
        return detector

    def verify(self, origin: str = "model package") -> None:
        """Run the network once on a blank input: its output must have the shape the metadata promises
        ([1, points, classes + box channels]); a graph and metadata that disagree are refused here, with
        one line, instead of failing on the first frame."""
        m = self.meta
        blank = np.zeros((1, 3, m.input_height, m.input_width), np.float32)
        try:
            out = self.backend.infer(blank)
        except Exception as exc:  # noqa: BLE001 - each runtime raises its own types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelPackageError(f"{origin}: the network does not run on the {m.input_width}x{m.input_height} "
                                    f"input its metadata names ({first[:200]})") from None  # fmt: skip
        expected = (1, m.num_points(), m.output_channels)
        if tuple(np.shape(out)) != expected:
            raise ModelPackageError(
                f"{origin}: the network outputs {list(np.shape(out))}, its metadata implies {list(expected)} "
                f"({m.num_classes} classes, strides {list(m.strides)}, reg_max {m.reg_max})"
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.meta.class_names

    @property
    def classes(self) -> frozenset[int] | None:
        return self._classes

    @classes.setter
    def classes(self, wanted: Iterable[int | str] | None) -> None:
        """Keep only these classes (ids or names); None keeps all."""
        if wanted is None:
            self._classes = None
            return
        ids = set()
        for c in wanted:
            if isinstance(c, str) and not c.isdigit():
                if c not in self.class_names:
                    close = [n for n in self.class_names if n.startswith(c[:2])][:5]
                    hint = f"; did you mean {', '.join(close)}?" if close else ""
                    raise ModelPackageError(f"unknown class '{c}' (this model knows {len(self.class_names)} "
                                            f"classes, see `kestrel info`{hint})")  # fmt: skip
                ids.add(self.class_names.index(c))
            else:
                if not 0 <= int(c) < len(self.class_names):
                    raise ModelPackageError(f"class id {c} is outside 0..{len(self.class_names) - 1}")
                ids.add(int(c))
        self._classes = frozenset(ids)

    def __call__(self, frames: np.ndarray | Sequence[np.ndarray]) -> Detections | list[Detections]:
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            return self.detect_batch([frames])[0]
        return self.detect_batch(list(frames))

    def detect_batch(self, frames: list[np.ndarray]) -> list[Detections]:
        if not frames:
            return []
        inputs, transforms = zip(*(self._pre(f) for f in frames), strict=True)
        raw = self.backend.infer(np.stack(inputs))
        return [self.postprocess(r, t) for r, t in zip(raw, transforms, strict=True)]

    def raw_output(self, frame: np.ndarray) -> tuple[np.ndarray, InputTransform]:
        """The network's output for one frame, before thresholds: keep it to re-threshold without
        inference (``postprocess(raw, transform)``), e.g. when a user moves a slider on a paused frame."""
        inputs, transform = self._pre(frame)
        return self.backend.infer(inputs[None])[0], transform

    def postprocess(self, raw: np.ndarray, transform: InputTransform) -> Detections:
        """One image's raw output [P, D] -> Detections in frame pixels."""
        boxes, scores, class_ids = self._decoder(raw, self.conf, self.pre_nms_topk)
        if self._classes is not None and len(class_ids):
            wanted = np.isin(class_ids, list(self._classes))
            boxes, scores, class_ids = boxes[wanted], scores[wanted], class_ids[wanted]
        keep = batched_nms(boxes, scores, class_ids, self.iou, self.max_det)
        if self.label_iou is not None and len(keep) > 1:
            keep = keep[suppress_across_classes(boxes[keep], scores[keep], self.label_iou)]
        return Detections(
            transform.boxes_to_frame(boxes[keep]), scores[keep], class_ids[keep], self.class_names
        )

    def describe(self) -> str:
        m = self.meta
        return (
            f"{m.name} {m.input_width}x{m.input_height}, {m.num_classes} classes, "
            f"strides {list(m.strides)}, backend {self.backend.describe()}"
        )
