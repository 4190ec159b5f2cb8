"""Images per second through a Triton server at 1, 4 and 8 concurrent clients, against local ONNX Runtime in the
same run.

    .venv/bin/python benchmarks/triton_throughput.py [--seconds 15] [--out docs/measurements/cpu-triton-throughput.json]

The server is tests/triton_server.py's: the tritonserver of PyPI's nvidia-pytriton on 127.0.0.1, serving the
bundled default model through Triton's Python backend (ONNX Runtime inside, default threads as the local
session) with dynamic batching (max batch 8, 2 ms queue delay). Each client is a thread with its own gRPC connection
sending one preprocessed 320x320 image per request, back to back, for ``--seconds``. Local ONNX Runtime runs
the same images: one session, each client a thread calling it (ONNX Runtime's own thread pool), and one
session called with batches of 8. Everything shares this machine's cores: the figures say what the protocol and
batching cost and buy here, not what a GPU server would do.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PACKAGE = ROOT / "assets" / "kestrel-lite0-320.onnx"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hammer(make_call, clients: int, seconds: float, batch: int = 1) -> float:
    """Images per second with ``clients`` threads each calling its own ``make_call()`` back to back."""
    calls = [make_call() for _ in range(clients)]
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def work(i: int) -> None:
        start.wait()
        while not stop.is_set():
            calls[i]()
            counts[i] += batch

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "triton-throughput.json")
    args = parser.parse_args()
    import onnxruntime as ort
    import tritonclient.grpc as grpc

    from app.cli import main as kestrel
    from tests.triton_server import TritonServer

    blob = np.random.default_rng(0).uniform(-1, 1, (1, 3, 320, 320)).astype(np.float32)
    batch8 = np.repeat(blob, 8, axis=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kestrel-triton-bench-") as work:
        work = Path(work)
        if kestrel(["export", str(PACKAGE), "--format", "triton", "-o", str(work / "repo"), "--name", "kestrel",
                    "--triton-backend", "python"]) != 0:  # fmt: skip
            raise SystemExit("export failed")
        grpc_port, http_port = free_port(), free_port()
        server = TritonServer(work / "repo", grpc_port, http_port, work, threads=0)  # as the local session
        server.start()
        try:
            def remote():
                client = grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
                tensor = grpc.InferInput("images", list(blob.shape), "FP32")
                tensor.set_data_from_numpy(blob)
                wanted = [grpc.InferRequestedOutput("output")]
                return lambda: client.infer("kestrel", [tensor], outputs=wanted).as_numpy("output")

            session = ort.InferenceSession(str(PACKAGE), providers=["CPUExecutionProvider"])

            def local():
                return lambda: session.run(["output"], {"images": blob})

            def local_batched():
                return lambda: session.run(["output"], {"images": batch8})

            for clients in (1, 4, 8):
                local_ips = hammer(local, clients, args.seconds)
                remote_ips = hammer(remote, clients, args.seconds)
                rows.append({"clients": clients, "triton_img_s": round(remote_ips, 1),
                             "local_img_s": round(local_ips, 1), "ratio": round(remote_ips / local_ips, 2)})
                print(f"{clients} clients: triton {remote_ips:6.1f} img/s, local ONNX Runtime {local_ips:6.1f} img/s",
                      flush=True)  # fmt: skip
            batched = hammer(local_batched, 1, args.seconds, batch=8)
        finally:
            server.stop()
    print("\n| clients | Triton (img/s) | local ONNX Runtime (img/s) | Triton / local |\n| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['clients']} | {r['triton_img_s']} | {r['local_img_s']} | {r['ratio']} |")
    print(f"\nlocal ONNX Runtime, one caller with batches of 8: {batched:.1f} img/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "benchmarks/triton_throughput.py", "seconds": args.seconds,
                                    "rows": rows, "local_batch8_img_s": round(batched, 1)}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
