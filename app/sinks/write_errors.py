"""Write failures in words a user acts on: a full disk is named as such, whoever reported it."""

from __future__ import annotations

import errno
from pathlib import Path

DISK_FULL = ("no space left", "file too large", "disk quota", "enospc", "efbig")


def describe_write_error(path: Path | str, message: str, debug: str = "") -> str:
    text = f"{message} {debug}".lower()
    if any(marker in text for marker in DISK_FULL):
        return f"writing {path} failed: the disk is full (or a file size limit was reached)"
    if "permission denied" in text:
        return f"writing {path} failed: permission denied"
    if "could not open" in text and "for writing" in text:
        return f"cannot write {path}: the location cannot be opened for writing"
    return f"writing {path} failed: {message}"


def describe_os_error(path: Path | str, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"writing {path} failed: the disk is full (or a file size limit was reached)"
    if exc.errno == errno.EISDIR:
        return f"cannot write {path}: it is a directory"
    return f"cannot write {path}: {exc.strerror or exc}"
