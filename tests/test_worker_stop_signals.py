"""A stop signal that reaches a data worker while it starts up must not kill it.

PyTorch's worker start-up installs a SIGTERM handler that dies on a signal from anyone but the parent; the
trainer's `_quiet_worker` ignores stop signals, but only once it runs. The window between is microseconds
long; these tests widen it to a second so the race is hit every time instead of once in a CI run."""

from __future__ import annotations

import subprocess
import time

import pytest
import torch.utils.data._utils.signal_handling as signal_handling
from torch.utils.data import DataLoader

from trainer.loop import _quiet_worker, _workers_started


@pytest.fixture
def slow_worker_start(monkeypatch):
    original = signal_handling._set_worker_signal_handlers

    def slow() -> None:
        original()
        time.sleep(1.0)

    monkeypatch.setattr(signal_handling, "_set_worker_signal_handlers", slow)


def _terminate_worker_during_start_up(iterator) -> None:
    time.sleep(0.3)
    # from another process, as `kill`, systemd or a terminal's group signal would: a signal from the parent
    # is PyTorch's own shutdown and is always honoured
    subprocess.run(["kill", "-TERM", str(iterator._workers[0].pid)], check=True)


def _loader() -> DataLoader:
    return DataLoader(list(range(6)), batch_size=2, num_workers=1, worker_init_fn=_quiet_worker)


def test_workers_started_with_stop_signals_held_survive_a_signal_during_start_up(slow_worker_start):
    iterator = _workers_started(_loader())
    _terminate_worker_during_start_up(iterator)
    assert [batch.tolist() for batch in iterator] == [[0, 1], [2, 3], [4, 5]]


def test_without_holding_them_the_same_signal_kills_the_worker(slow_worker_start):
    """The window is real: the loader's plain iterator loses its worker to the same signal."""
    iterator = iter(_loader())
    _terminate_worker_during_start_up(iterator)
    with pytest.raises(RuntimeError, match="DataLoader worker"):
        list(iterator)
