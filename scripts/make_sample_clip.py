"""Make assets/sample.mp4: the first 10 s of vtest.avi (Debian opencv-doc, OpenCV's sample data,
Apache-2.0 AND BSD-3-Clause per Debian's copyright file), re-encoded to H.264 by GStreamer.

    .venv/bin/python scripts/make_sample_clip.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "sample.mp4")
    args = parser.parse_args()
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: apt-get install opencv-doc", file=sys.stderr)
        return 2
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec
    from app.sinks.recorder import Recorder

    cap = GstCapture(SourceSpec.parse(str(SOURCE))).open()
    recorder = None
    for frame in cap:
        if frame.pts_ns >= args.seconds * 1e9:
            break
        recorder = recorder or Recorder(args.out, frame.width, frame.height, 10, kbps=700)
        recorder.write(frame.image, frame.pts_ns)
    cap.close()
    recorder.close()
    print(f"wrote {args.out}: {recorder.count} frames, {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
