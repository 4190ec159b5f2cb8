"""kestrel devices: the cameras GStreamer can see."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list video capture devices (cameras)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..capture.devices import list_video_devices

    devices = list_video_devices()
    if not devices:
        print("no video capture devices found")
    for d in devices:
        print(f"{d.path or '?':16s} {d.name}\n{'':16s} {d.caps}")
    return 0
