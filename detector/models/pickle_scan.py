"""Static scan of the pickles inside a PyTorch file: which globals would loading it call?

Done with ``pickletools`` (no object is built, nothing runs), so a checkpoint carrying code is named
and refused before ``torch.load(weights_only=True)`` ever sees it.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

ALLOWED_GLOBALS = {
    "collections OrderedDict",
    "torch._utils _rebuild_tensor_v2",
    "torch._utils _rebuild_parameter",
    "torch._utils _rebuild_parameter_with_state",
    "torch device",
    "torch Size",
    "builtins set",
}
STORAGE_SUFFIX = "Storage"
STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING", "STRING"}


UNRESOLVED = "<a global whose name the scan cannot follow>"
MEMO_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}


def _globals_in(data: bytes, max_pickles: int) -> tuple[set[str], bool]:
    """Globals referenced by up to ``max_pickles`` consecutive pickles; second item: parsed cleanly.

    ``STACK_GLOBAL`` takes its module and name from the stack, and a crafted pickle can put them there from the
    memo (``BINGET``) instead of as string literals: the scan keeps the memo of strings and the recent stack
    values, and a name it cannot follow counts as disallowed.
    """
    found: set[str] = set()
    stream = io.BytesIO(data)
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        recent: list[str | None] = []  # the values most recently pushed (None: not a string)
        memo: dict[int, str | None] = {}
        try:
            for op, arg, _pos in pickletools.genops(stream):
                name = op.name
                if name in STRING_OPS:
                    recent.append(str(arg))
                elif name in MEMO_GET:
                    recent.append(memo.get(int(arg)))
                elif name in MEMO_PUT:
                    memo[int(arg)] = recent[-1] if recent else None
                elif name == "MEMOIZE":
                    memo[len(memo)] = recent[-1] if recent else None
                elif name == "GLOBAL":
                    found.add(str(arg))
                    recent.append(None)
                elif name == "STACK_GLOBAL":
                    module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                    found.add(f"{module} {attr}" if module is not None and attr is not None else UNRESOLVED)
                    recent.append(None)
                elif op.stack_after:
                    recent.append(None)
                if name == "STOP":
                    break
        except Exception:
            return found, False
    return found, True


def disallowed_globals(path: Path) -> tuple[set[str], bool]:
    """(globals outside the tensor allowlist, whether the file parsed as pickles at all)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".pkl")]
            found, ok = set(), bool(names)
            for name in names:
                more, good = _globals_in(archive.read(name), 1)
                found |= more
                ok &= good
    else:  # legacy format: magic number, protocol, sys info, the object, then raw storages
        found, ok = _globals_in(path.read_bytes(), 4)
    bad = {g for g in found if g not in ALLOWED_GLOBALS and not (g.startswith("torch ") and g.endswith(STORAGE_SUFFIX))}
    return bad, ok
