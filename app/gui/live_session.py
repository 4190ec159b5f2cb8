"""A live source (camera, RTSP, test pattern) in the GUI: the headless app's pipeline with a GUI sink.

Same policy as ``kestrel run``: only the newest frame waits for the detector (drops are counted), a
dropped stream reconnects with backoff and the gap goes to the event log. A source that never opens
is an error dialog, not an endless retry.
"""

from __future__ import annotations

from detector.detections import Detections

from ..frame import Frame
from ..pipeline import Pipeline, Sink
from .processor import FrameProcessor, ViewResult
from .session import Session, SessionEvents


class _GuiSink(Sink):
    wants_annotated = True

    def __init__(self, session: LiveSession) -> None:
        self.session = session

    def write(self, frame: Frame, detections: Detections, annotated) -> None:
        processor = self.session.processor
        processor.recorder.write(frame, detections, annotated)
        detect = self.session.pipeline.stats["detect"]
        self.session.events.frame(ViewResult(frame, detections, annotated, detect.latency_ms))


class _Tracking:
    """The pipeline's object stage for a live GUI session: the processor's tracker, its events to the GUI."""

    def __init__(self, processor: FrameProcessor) -> None:
        self.processor = processor

    def step(self, frame: Frame, detections: Detections) -> tuple[Detections, list[dict]]:
        return self.processor.track(frame, detections), []

    def finish(self) -> list[dict]:
        return []


class _LineWriter:
    """File-like object handing the pipeline's log lines to the GUI's event log."""

    def __init__(self, events: SessionEvents) -> None:
        self.events = events

    def write(self, text: str) -> None:
        if text.strip():
            self.events.log(text.strip())

    def flush(self) -> None: ...


class LiveSession(Session):
    def __init__(self, spec, processor: FrameProcessor, events: SessionEvents, capture_options: dict | None = None):
        super().__init__(spec, processor, events)
        self.pipeline = Pipeline(spec, processor.detector, [_GuiSink(self)], annotate=self._annotate,
                                 objects=_Tracking(processor),
                                 capture_options=capture_options, log=_LineWriter(events),
                                 retry_first_open=False)  # fmt: skip

    def _annotate(self, frame: Frame, detections: Detections, pipeline: Pipeline):
        pipeline.detector = self.processor.detector  # a model switched in the GUI applies on the next frame
        return self.processor.draw(frame, detections)



    def _interrupt(self) -> None:
        self.pipeline.stop.set()

    def _run(self) -> None:
        self.events.state("opened", {"duration_s": 0.0, "fps": 0.0, "seekable": False})
        self.events.state("playing", {})
        summary = self.pipeline.run()
        if summary.error and not self.stop_event.is_set():
            from detector.errors import KestrelError

            raise KestrelError(summary.error)
        self.events.state("ended", {})

    def stats(self) -> dict[str, str]:
        s = self.pipeline.stats
        return {"capture": f"{s['capture'].fps:.1f} fps", "detect": f"{s['detect'].fps:.1f} fps, "
                f"{s['detect'].latency_ms:.1f} ms", "dropped": str(self.pipeline.dropped),
                "reconnects": str(self.pipeline.reconnects)}  # fmt: skip
