"""Soak of `kestrel serve`: cameras (RTSP loops of shared clips), a real mosquitto, camera flaps, a broker restart
and a storage quota, for as long as asked; then memory growth, storage against the quota and events generated
against events delivered over MQTT.

    .venv/bin/python benchmarks/serve_soak.py --minutes 30 --cameras 4 [--max-gb 0.2] [--out docs/measurements/...]

Every 10 s it samples the service's resident memory and its storage folder. RSS growth is measured from the end
of the warm-up (a sixth of the run, at most 5 minutes) to the end. Every `--flap-every` seconds one camera's
server (in turn) is killed for 10 s; at half time the broker is stopped for 20 s. At the end the outbox is let
drain, the service is stopped, and each camera's new/update/end events (its events file) are compared with what
an MQTT subscriber (persistent session, QoS 2) received: same events, same order, none twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
CLIPS = ["storefront-cctv-640x360.mp4", "traffic-cam-640x360.mp4", "intel-one-by-one-person-detection.mp4",
         "dashcam-640x360.mp4"]  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def folder_mb(folder: Path) -> float:
    total = 0
    for p in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            total += p.stat().st_size if p.is_file() else 0
    return total / 1e6


class Camera:
    def __init__(self, clip: Path) -> None:
        self.clip, self.port, self.proc = clip, free_port(), None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(self.port), str(self.clip)],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"RTSP server for {self.clip} did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--max-gb", type=float, default=0.2, help="storage quota (default 0.2 GB)")
    parser.add_argument("--keep-s", type=float, default=60.0, help="each camera's segment ring (default 60 s)")
    parser.add_argument("--flap-every", type=float, default=120.0, help="seconds between camera outages")
    parser.add_argument("--no-clips", action="store_true", help="no event clips (isolates the recording path)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "serve-soak.json")
    args = parser.parse_args(argv)
    import paho.mqtt.client as mqtt

    from tests.mqtt_broker import Broker

    clips = [VIDEOS / name for name in CLIPS if (VIDEOS / name).exists()] or [ROOT / "assets" / "sample.mp4"]
    work = Path(tempfile.mkdtemp(prefix="kestrel-soak-"))
    cameras = {f"cam{i + 1}": Camera(clips[i % len(clips)]) for i in range(args.cameras)}
    for c in cameras.values():
        c.start()
    mqtt_port, http = free_port(), free_port()
    broker = Broker(work, mqtt_port)
    received: list[dict] = []
    consumer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kestrel-soak-consumer", clean_session=False)
    consumer.on_connect = lambda c, *_: c.subscribe("kestrel/events", qos=2)
    consumer.on_message = lambda c, u, m: received.append(json.loads(m.payload))
    consumer.reconnect_delay_set(0.2, 2)
    consumer.connect("127.0.0.1", mqtt_port)
    consumer.loop_start()
    storage = work / "data"
    record = {"keep_s": args.keep_s, "events": not args.no_clips}
    config = {"detect": {"fps": 5}, "http": {"port": http}, "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
              "storage": {"path": str(storage), "max_gb": args.max_gb},
              "cameras": {name: {"source": f"rtsp://127.0.0.1:{c.port}/stream", "record": record}
                          for name, c in cameras.items()}}  # fmt: skip
    (work / "serve.yaml").write_text(yaml.safe_dump(config))
    log = open(work / "serve.log", "w")  # noqa: SIM115 - the service's log for the whole run
    serve = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", str(work / "serve.yaml")], cwd=ROOT,
                             stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{http}"
    duration = args.minutes * 60
    warmup = min(300.0, duration / 6)
    samples, actions = [], []
    t0 = time.monotonic()
    next_flap, flapped, broker_done, down = args.flap_every, 0, False, None
    try:
        while (now := time.monotonic() - t0) < duration:
            if serve.poll() is not None:
                raise RuntimeError(f"kestrel serve exited with {serve.returncode}; see {work / 'serve.log'}")
            if down is not None and now >= down[1]:
                down[0].start()
                actions.append((round(now, 1), "camera back"))
                down = None
            if down is None and now >= next_flap and now < duration - 30:
                name = list(cameras)[flapped % len(cameras)]
                cameras[name].kill()
                down, flapped, next_flap = (cameras[name], now + 10), flapped + 1, next_flap + args.flap_every
                actions.append((round(now, 1), f"{name} killed"))
            if not broker_done and now >= duration / 2:
                broker.stop()
                actions.append((round(now, 1), "broker stopped"))
                time.sleep(20)
                broker.start()
                actions.append((round(time.monotonic() - t0, 1), "broker started"))
                broker_done = True
            samples.append({"t_s": round(now, 1), "rss_mb": round(rss_mb(serve.pid), 1),
                            "storage_mb": round(folder_mb(storage), 2)})  # fmt: skip
            if len(samples) % 6 == 1:
                print(f"{now / 60:5.1f} min  rss {samples[-1]['rss_mb']:.0f} MB  storage "
                      f"{samples[-1]['storage_mb']:.1f} MB  received {len(received)}", flush=True)  # fmt: skip
            time.sleep(10)
        if down is not None:
            down[0].start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and metric(base, "kestrel_mqtt_queued") > 0:
            time.sleep(1)
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=120)
        time.sleep(3)
    finally:
        if serve.poll() is None:
            serve.kill()
        consumer.loop_stop()
        broker.stop()
        for c in cameras.values():
            if c.proc and c.proc.poll() is None:
                c.kill()
    (work / "received.jsonl").write_text("".join(json.dumps(m) + "\n" for m in received))
    left = sqlite3.connect(storage / "outbox.sqlite").execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    per_camera = {}
    for name in cameras:
        lines = [json.loads(x) for x in (storage / "events" / f"{name}.jsonl").read_text().splitlines()]
        generated = [(e["type"], e["id"]) for e in lines if e.get("type") in ("new", "update", "end")]
        got = [(m["type"], m["after"]["id"]) for m in received
               if m.get("type") in ("new", "update", "end") and m["after"]["camera"] == name]  # fmt: skip
        notices = [e["type"] for e in lines if e.get("type", "").startswith("source_")]
        first_difference = next((i for i, (a, b) in enumerate(zip(got, generated, strict=False)) if a != b), None)
        if first_difference is None and len(got) != len(generated):
            first_difference = min(len(got), len(generated))
        if first_difference is not None:
            i = first_difference
            print(f"{name}: first difference at {i}: delivered {got[max(i - 2, 0):i + 3]}, "
                  f"generated {generated[max(i - 2, 0):i + 3]}")  # fmt: skip
        per_camera[name] = {"generated": len(generated), "delivered": len(got), "same_in_order": got == generated,
                            "source_lost": notices.count("source_lost"), "source_back": notices.count("source_back")}
    warm = [s["rss_mb"] for s in samples if s["t_s"] >= warmup]
    growth = (warm[-1] - warm[0]) / warm[0] * 100 if len(warm) > 1 else float("nan")
    peak_storage = max(s["storage_mb"] for s in samples)
    result = {"command": "benchmarks/serve_soak.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "minutes": args.minutes, "cameras": {n: c.clip.name for n, c in cameras.items()},
              "rss_after_warmup_mb": warm[0] if warm else None, "rss_end_mb": warm[-1] if warm else None,
              "rss_growth_pct": round(growth, 2), "quota_mb": args.max_gb * 1000,
              "peak_storage_mb": peak_storage, "left_in_outbox": left, "per_camera": per_camera,
              "actions": actions, "samples": samples, "log": str(work / "serve.log")}  # fmt: skip
    ok = (growth < 5 and peak_storage <= args.max_gb * 1000 and left == 0
          and all(c["same_in_order"] for c in per_camera.values()))  # fmt: skip
    result["passed"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{'camera':8} {'generated':>9} {'delivered':>9} {'in order':>8} {'lost/back':>9}")
    for name, c in per_camera.items():
        print(f"{name:8} {c['generated']:9d} {c['delivered']:9d} {c['same_in_order']!s:>8} "
              f"{c['source_lost']:4d}/{c['source_back']:<4d}")  # fmt: skip
    print(f"RSS {result['rss_after_warmup_mb']} -> {result['rss_end_mb']} MB ({growth:+.2f} %); storage peak "
          f"{peak_storage:.1f} MB of {args.max_gb * 1000:.0f} MB; left in outbox {left}; "
          f"{'PASS' if ok else 'FAIL'}; wrote {args.out}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
