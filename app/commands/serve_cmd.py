"""kestrel serve: many cameras in one process around one shared detector, events out, health and metrics."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

TRIM_EVERY_S = 30.0  # how often freed heap pages go back to the system (app/service/memory.py)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the multi-camera surveillance service from a YAML config",
                       description="Run every camera of CONFIG in one process: each is decoded at its own rate, "
                       "sampled at detect.fps and tracked; one shared detector batches the newest sampled frame "
                       "of each camera. Object, zone and line events go to STORAGE/events/CAMERA.jsonl; "
                       "http://127.0.0.1:8971 serves /healthz, /readyz, /metrics (Prometheus) and /api/cameras. "
                       "Cameras reconnect on their own; SIGINT/SIGTERM stop everything cleanly.")  # fmt: skip
    p.add_argument("config", type=Path, help="service config (YAML; see docs/service.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..service.config import load_service_config
    from ..service.memory import release_free_memory, tune_allocator
    from ..service.service import Service
    from .run_cmd import default_model

    tune_allocator()  # before the cameras start their threads and allocate their first frames

    config = load_service_config(args.config)
    service = Service(config, config.model_ref() or default_model())
    previous = {s: signal.signal(s, lambda *_: service.stop_event.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        service.start()
        while not service.stop_event.wait(TRIM_EVERY_S):
            release_free_memory()
    finally:
        service.stop()  # still under our handlers: a second signal while stopping is no traceback
        for s, handler in previous.items():
            signal.signal(s, handler)
    for camera in service.cameras.values():
        status = camera.status()
        print(f"  {camera.name}: {status['frames_detected']} frames detected of {status['frames_decoded']} "
              f"decoded, {status['reconnects']} reconnects, events in {camera.events_file}", file=sys.stderr)
        if status["error"]:
            print(f"  {camera.name}: stopped early: {status['error']}", file=sys.stderr)
    return 0
