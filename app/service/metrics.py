"""Prometheus metrics of the service, read from the cameras' live counters at each scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class CameraCollector:
    def __init__(self, service) -> None:
        self.service = service

    def collect(self):
        families = {
            "frames_decoded": CounterMetricFamily("kestrel_frames_decoded", "frames decoded", labels=["camera"]),
            "frames_detected": CounterMetricFamily("kestrel_frames_detected", "frames detected", labels=["camera"]),
            "frames_dropped": CounterMetricFamily("kestrel_frames_dropped", "sampled frames dropped before detection",
                                                  labels=["camera"]),
            "reconnects": CounterMetricFamily("kestrel_reconnects", "source reconnections", labels=["camera"]),
            "events": CounterMetricFamily("kestrel_events_written", "event lines written", labels=["camera"]),
        }  # fmt: skip
        streaming = GaugeMetricFamily("kestrel_camera_streaming", "1 while the camera delivers frames",
                                      labels=["camera"])  # fmt: skip
        for camera in self.service.cameras.values():
            status = camera.status()
            for key, family in families.items():
                family.add_metric([camera.name], status[key])
            streaming.add_metric([camera.name], 1.0 if status["streaming"] else 0.0)
        yield from families.values()
        yield streaming
        failover = getattr(self.service, "failover", None)
        if failover is not None:
            seconds = CounterMetricFamily("kestrel_detector_fallback_seconds", "time spent on the local fallback")
            seconds.add_metric([], failover.fallback_seconds())
            switches = CounterMetricFamily("kestrel_detector_fallbacks", "switches to the local fallback")
            switches.add_metric([], failover.fallbacks)
            active = GaugeMetricFamily("kestrel_detector_on_fallback", "1 while the local fallback detects")
            active.add_metric([], 1.0 if failover.on_fallback else 0.0)
            yield from (seconds, switches, active)
        if self.service.publisher is not None:
            published = CounterMetricFamily("kestrel_mqtt_published", "MQTT messages the broker acknowledged")
            published.add_metric([], self.service.publisher.published)
            queued = GaugeMetricFamily("kestrel_mqtt_queued", "MQTT messages waiting in the outbox")
            queued.add_metric([], len(self.service.outbox))
            yield published
            yield queued


def make_registry(service) -> tuple[CollectorRegistry, Histogram, Histogram]:
    registry = CollectorRegistry()
    registry.register(CameraCollector(service))
    ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU seconds, open fds: a months-long run
    latency = Histogram("kestrel_detector_batch_seconds", "time of one detector batch", registry=registry,
                        buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28))  # fmt: skip
    size = Histogram("kestrel_detector_batch_size", "frames per detector batch", registry=registry,
                     buckets=(1, 2, 3, 4, 6, 8, 12, 16))  # fmt: skip
    return registry, latency, size
