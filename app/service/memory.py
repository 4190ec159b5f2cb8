"""glibc malloc settings for a process that decodes video for months.

Three measures, all through libc's own interface (no-ops where libc is not glibc):

- **Fixed mmap threshold.** glibc serves blocks above its mmap threshold (128 KiB) with mmap and returns them
  to the system on free — but each time such a block is freed it raises the threshold to that block's size, so
  from then on frame-sized buffers (a 640x360 BGR frame is 675 KiB) come from the heap arenas, where many
  threads allocating and freeing them fragment memory and the resident size creeps up. Fixing the threshold
  keeps every frame buffer mapped. Measured with `benchmarks/serve_soak.py --minutes 6 --cameras 4 --no-clips`:
  resident size 321 -> 333 MB over the run's last 4.4 minutes with the fixed threshold, 357 -> 385 MB without.
- **Few arenas.** glibc gives threads up to 8 arenas per core; every GStreamer streaming thread, decoder and
  ONNX Runtime worker can end up with its own, each keeping freed memory of its own.
- **Periodic trim.** ``malloc_trim(0)`` hands whole free pages inside the arenas back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
M_ARENA_MAX = -8


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist only in glibc
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(mmap_threshold: int = 128 * 1024, arenas: int = 2) -> bool:
    """Fix the mmap threshold (which also stops its dynamic adjustment) and cap the arenas; call before the
    process starts its threads. False where libc is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Return free heap pages to the system; True when glibc released any."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
