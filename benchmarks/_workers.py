"""Benchmark workers: each runtime lives in its own process; the parent asks for rounds in turn."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _serve(conn: Any, factory: Callable[..., Callable[[], None]], args: tuple) -> None:
    step = factory(*args)
    for _ in range(5):  # warm-up: allocators, thread pools, caches
        step()
    conn.send("ready")
    while True:
        n = conn.recv()
        if n is None:
            break
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        conn.send(times)


class Worker:
    """A process running ``factory(*args)()`` on request; ``run(n)`` returns n latencies in ms."""

    def __init__(self, name: str, factory: Callable[..., Callable[[], None]], *args: Any) -> None:
        self.name = name
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, factory, args), daemon=True)
        self.proc.start()
        if self.conn.recv() != "ready":
            raise RuntimeError(f"worker {name} failed to start")

    def run(self, n: int) -> list[float]:
        self.conn.send(n)
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(timeout=10)


def interleave(workers: list[Worker], rounds: int, per_round: int, settle_s: float = 0.3) -> dict[str, list[float]]:
    """Round-robin so host-load drift hits every runtime alike.

    ``settle_s`` pauses between workers: thread pools (ONNX Runtime's, ncnn's) spin for a while after
    their last run and would otherwise steal cores from whichever worker runs next.
    """
    samples: dict[str, list[float]] = {w.name: [] for w in workers}
    for r in range(rounds):
        order = workers if r % 2 == 0 else workers[::-1]
        for w in order:
            time.sleep(settle_s)
            samples[w.name] += w.run(per_round)
    return samples


def summarise(samples: dict[str, list[float]], reference: str) -> list[dict[str, float | str]]:
    ref_median = float(np.median(samples[reference]))
    rows = []
    for name, times in samples.items():
        median = float(np.median(times))
        rows.append({
            "runtime": name, "median_ms": round(median, 2), "p90_ms": round(float(np.percentile(times, 90)), 2),
            "n": len(times), "speedup_vs_" + reference: round(ref_median / median, 3),
        })  # fmt: skip
    return rows


def print_table(rows: list[dict]) -> None:
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)))
