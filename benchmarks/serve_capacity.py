"""How many cameras this machine sustains at 5 detect fps each: `kestrel serve` with batching, `kestrel serve` with
one detector call per frame, and N separate `kestrel run --detect-fps 5` processes, at 640x360 and 720p.

    .venv/bin/python benchmarks/serve_capacity.py [--counts 1,2,4,6,8,10,12] [--seconds 20] [--out JSON]

Each camera is an RTSP loop (tests/rtsp_server.py, the clip's own H.264, no re-encoding) of a shared clip:
640x360 `storefront-cctv-640x360.mp4`, 720p `highway-720p.mp4` (both 30 fps). For each setup the number of
cameras climbs the `--counts` ladder until one fails; a count is sustained when, over `--seconds` after a 10 s
warm-up, every camera was detected at >= 90 % of 5 fps and at most 1 % of its sampled frames were dropped for
want of detector time. Event recording is off in every setup (`kestrel run` does not record), so all three do
the same work: decode every frame, detect 5 a second, track. Stop any training job first: the figures are this
machine's, not what is left of it.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.serve_soak import Camera, free_port  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
CLIPS = {"640x360": VIDEOS / "storefront-cctv-640x360.mp4", "1280x720": VIDEOS / "highway-720p.mp4"}
FPS, WARMUP_S = 5.0, 10.0


def cameras_status(base: str) -> dict:
    with urllib.request.urlopen(base + "/api/cameras", timeout=10) as r:
        return {c["name"]: c for c in json.loads(r.read())}


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kestrel serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("kestrel serve never became ready")


def serve_trial(servers: list[Camera], max_frames: int, seconds: float, work: Path) -> list[dict]:
    http = free_port()
    config = {"detect": {"fps": FPS}, "batch": {"max_frames": max_frames}, "http": {"port": http},
              "storage": {"path": str(work / "data")},
              "cameras": {f"cam{i}": {"source": f"rtsp://127.0.0.1:{s.port}/stream", "record": {"events": False}}
                          for i, s in enumerate(servers)}}  # fmt: skip
    (work / "serve.yaml").write_text(yaml.safe_dump(config))
    log = work / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", str(work / "serve.yaml")], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{http}"
    try:
        try:
            wait_ready(base, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log ends:\n{log.read_text()[-1500:]}") from None
        time.sleep(WARMUP_S)
        first, t0 = cameras_status(base), time.monotonic()
        time.sleep(seconds)
        last, t1 = cameras_status(base), time.monotonic()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return [{"detect_fps": (last[n]["frames_detected"] - first[n]["frames_detected"]) / (t1 - t0),
             "dropped": last[n]["frames_dropped"] - first[n]["frames_dropped"],
             "sampled": last[n]["frames_detected"] - first[n]["frames_detected"]
             + last[n]["frames_dropped"] - first[n]["frames_dropped"]} for n in first]  # fmt: skip


SUMMARY = re.compile(r"processed \d+ frames in ([\d.]+) s .*dropped (\d+)")
DETECT = re.compile(r"^\s+detect\s+(\d+) items", re.M)


def processes_trial(servers: list[Camera], seconds: float, work: Path) -> list[dict]:
    """N `kestrel run` processes; each one's rate is over its own pipeline time (its warm-up included)."""
    procs = [subprocess.Popen([sys.executable, "-m", "app.cli", "run", f"rtsp://127.0.0.1:{s.port}/stream",
                               "--detect-fps", str(FPS)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for s in servers]  # fmt: skip
    time.sleep(WARMUP_S + seconds)
    results = []
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        out = p.communicate(timeout=60)[0]
        summary, detect = SUMMARY.search(out), DETECT.search(out)
        if not (summary and detect):
            raise RuntimeError(f"kestrel run said:\n{out[-1500:]}")
        detected, dropped = int(detect.group(1)), int(summary.group(2))
        results.append({"detect_fps": detected / float(summary.group(1)), "dropped": dropped,
                        "sampled": detected + dropped})  # fmt: skip
    return results


def sustained(cameras: list[dict]) -> bool:
    return all(c["detect_fps"] >= 0.9 * FPS and c["dropped"] <= 0.01 * max(c["sampled"], 1) for c in cameras)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,2,4,6,8,10,12", help="camera counts to climb (default 1,2,...,12)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per trial (default 20)")
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "serve-capacity.json")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    setups = {"serve, batched (8)": lambda s, w: serve_trial(s, 8, args.seconds, w),
              "serve, one call per frame": lambda s, w: serve_trial(s, 1, args.seconds, w),
              "separate kestrel run processes": lambda s, w: processes_trial(s, args.seconds, w)}  # fmt: skip
    rows = []
    for size in args.sizes.split(","):
        if not CLIPS[size].exists():
            print(f"skipping {size}: {CLIPS[size]} is missing (needs ../shared)")
            continue
        for setup, trial in setups.items():
            best, trials = 0, []
            for n in counts:
                servers = [Camera(CLIPS[size]) for _ in range(n)]
                for s in servers:
                    s.start()
                try:
                    with tempfile.TemporaryDirectory(prefix="kestrel-capacity-") as work:
                        cams = trial(servers, Path(work))
                finally:
                    for s in servers:
                        s.kill()
                ok = sustained(cams)
                worst = min(c["detect_fps"] for c in cams)
                dropped = sum(c["dropped"] for c in cams) / max(sum(c["sampled"] for c in cams), 1)
                trials.append({"cameras": n, "sustained": ok, "worst_detect_fps": round(worst, 2),
                               "dropped_share": round(dropped, 4)})  # fmt: skip
                print(f"{size:9} {setup:32} {n:3d} cameras: worst {worst:4.1f} detect fps, dropped "
                      f"{dropped * 100:5.1f} %  {'ok' if ok else 'NOT SUSTAINED'}", flush=True)  # fmt: skip
                if not ok:
                    break
                best = n
            rows.append({"size": size, "setup": setup, "max_cameras": best, "trials": trials})
    print(f"\n{'size':9} {'setup':32} {'cameras sustained at 5 fps':>27}")
    for r in rows:
        print(f"{r['size']:9} {r['setup']:32} {r['max_cameras']:27d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "benchmarks/serve_capacity.py " + " ".join(argv or sys.argv[1:]),
                                    "detect_fps": FPS, "measured_s": args.seconds, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
