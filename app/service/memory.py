"""glibc malloc settings for a process that decodes video for months.

glibc serves blocks above its mmap threshold (128 KiB) with mmap and returns them to the system on free — but
each time such a block is freed it raises the threshold to that block's size, so from then on frame-sized
buffers (a 640x360 BGR frame is 675 KiB) come from the heap arenas, where the pattern of many threads
allocating and freeing them fragments memory and the resident size creeps up. Fixing the threshold keeps every
frame buffer mapped. Measured with `benchmarks/serve_soak.py --minutes 6 --cameras 4 --no-clips`: resident
size 321 -> 333 MB over the run's last 4.4 minutes with the fixed threshold, 357 -> 385 MB without it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)


def keep_frame_buffers_mapped(threshold: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold (which also stops its dynamic adjustment); False where libc is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
