"""A real Triton Inference Server on 127.0.0.1 for tests and benchmarks: the ``tritonserver`` binary (2.51) that
PyPI's nvidia-pytriton wheel ships, serving Kestrel's model through Triton's Python backend (the repository
`kestrel export --format triton --triton-backend python` writes: a model.py running ONNX Runtime).

nvidia-pytriton pins numpy < 2, so it lives in its own virtual environment (build/pytriton-venv, created on
first use and kept); its site-packages also give the server's Python backend numpy and onnxruntime. pytriton's
own Python wrapper is not used (its tensor store fails here); the bare binary is started as a subprocess with
the wheel's libraries on LD_LIBRARY_PATH and stopped by its pid.

    python -m tests.triton_server REPO GRPC_PORT HTTP_PORT     serve REPO until killed (prints "ready")
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "pytriton-venv"
PINNED = ["nvidia-pytriton==0.7.0", "onnxruntime==1.32.0"]


class TritonUnavailable(RuntimeError):
    pass


def site_packages() -> Path:
    return VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def ensure_venv() -> Path:
    """The server's environment, created once (a minute: a 55 MB wheel)."""
    stamp = VENV / ".kestrel-triton"
    if not (stamp.exists() and stamp.read_text() == " ".join(PINNED)):
        print(f"creating {VENV} with {', '.join(PINNED)} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", *PINNED],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise TritonUnavailable(f"could not install {' '.join(PINNED)}: {done.stderr.strip()[-500:]}")
        stamp.write_text(" ".join(PINNED))
    return site_packages()


def backend_folder(site: Path, where: Path) -> Path:
    """Triton's backend directory: the python backend plus the stub built for this Python."""
    wheel = site / "pytriton" / "tritonserver"
    stub = wheel / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}" / \
        "triton_python_backend_stub"  # fmt: skip
    if not stub.exists():
        raise TritonUnavailable(f"no Triton Python-backend stub for Python {sys.version.split()[0]}")
    python = where / "python"
    shutil.copytree(wheel / "backends" / "python", python, dirs_exist_ok=True)
    shutil.copy2(stub, python / "triton_python_backend_stub")
    return where


class TritonServer:
    def __init__(self, repo: Path, grpc_port: int, http_port: int, work: Path, threads: int = 1) -> None:
        """``threads``: ONNX Runtime's intra-op threads per model instance (0: its default, every core)."""
        site = ensure_venv()
        self.binary = site / "pytriton" / "tritonserver" / "bin" / "tritonserver"
        self.repo, self.grpc_port, self.http_port = repo, grpc_port, http_port
        self.backends = backend_folder(site, work / "triton-backends")
        self.env = {**os.environ, "LD_LIBRARY_PATH": str(site / "nvidia_pytriton.libs"),
                    "KESTREL_TRITON_SITE": str(site), "KESTREL_TRITON_THREADS": str(threads)}  # fmt: skip
        self.log = work / "tritonserver.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        args = [str(self.binary), "--model-repository", str(self.repo), "--backend-directory", str(self.backends),
                "--grpc-address", "127.0.0.1", "--grpc-port", str(self.grpc_port), "--http-address", "127.0.0.1",
                "--http-port", str(self.http_port), "--allow-metrics", "false", "--exit-timeout-secs", "2"]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TritonUnavailable(f"tritonserver exited ({self.proc.returncode}): "
                                        f"{self.log.read_text()[-800:]}")  # fmt: skip
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TritonUnavailable(f"tritonserver not ready in {timeout:.0f} s: {self.log.read_text()[-800:]}")

    def stop(self) -> None:
        """Kill the server (and its Python-backend stubs, its process group) by pid."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


if __name__ == "__main__":
    import tempfile

    repo, grpc_port, http_port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    server = TritonServer(repo, grpc_port, http_port, Path(tempfile.mkdtemp(prefix="kestrel-triton-")))
    server.start()
    print("ready", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()
