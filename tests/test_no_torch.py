"""The runtime path — load a package, detect — never imports torch."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import sys, numpy as np
from detector import Detector
det = Detector.load(sys.argv[1])
dets = det(np.full((240, 320, 3), 127, np.uint8))
import app.cli
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
print("ok", len(dets))
"""


def test_loading_and_detecting_never_imports_torch(plus320):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(plus320)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
