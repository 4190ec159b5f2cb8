"""Output files: never the input, never an existing file without ``--overwrite``, written whole.

Files that are only useful complete (models, images, JSON) are written to a temporary name beside the
target and renamed when done, so a failure or Ctrl-C leaves the old file (or nothing), never half of one.
Recordings and event logs are streamed in place instead: they are built to stay readable when cut off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from detector.errors import KestrelError

from .sinks.write_errors import describe_os_error


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(path: Path, inputs: Iterable[Path | str | None] = (), overwrite: bool = False,
                 flag: str = "--overwrite") -> Path:  # fmt: skip
    """Refuse an output that is one of the inputs, a directory, or (without ``flag``) an existing file."""
    path = Path(path)
    for source in inputs:
        if source is not None and _same(path, Path(source)):
            raise KestrelError(f"the output {path} is also an input: choose another name")
    if path.is_dir():
        raise KestrelError(f"the output {path} is a directory: give a file name")
    if path.exists() and not overwrite:
        raise KestrelError(f"{path} exists: add {flag} to replace it")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise KestrelError(f"cannot write {path}: {parent} is not writable")
    return path


def probe_writable(path: Path) -> None:
    """Create ``path`` now (empty), so an unwritable location fails before any work, not mid-run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError as exc:
        raise KestrelError(describe_os_error(path, exc)) from None


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that becomes ``path`` when the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KestrelError(describe_os_error(path, exc)) from None
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise KestrelError(describe_os_error(path, exc)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
