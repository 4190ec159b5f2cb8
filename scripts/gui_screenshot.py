"""Open Kestrel's window on a clip, pause at a frame with detections, and save a real screenshot.

    python scripts/gui_screenshot.py CLIP --model PKG --out gui.png [--json boxes.json] [--seek 4.0]

Run it on a real display or under Xvfb with QT_QPA_PLATFORM=xcb: the screenshot is taken from the
screen (QScreen.grabWindow on the root window), not rendered by the widget, so it shows what the X
server shows. ``--json`` writes each detection's box in screen pixels with its class colour (BGR),
for a test to find the overlay in the picture. The README's screenshot comes from this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seek", type=float, default=0.0, help="seconds into the clip")
    parser.add_argument("--size", default="1280x760", help="window size WxH")
    args = parser.parse_args(argv)

    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.overlay import class_colour

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(args.out.with_suffix(".ini")), QSettings.Format.IniFormat)
    window = MainWindow(settings, args.model, args.out.parent)
    w, h = (int(v) for v in args.size.split("x"))
    window.resize(w, h)
    window.move(0, 0)
    window.show()

    def wait(condition, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            if condition():
                return True
            time.sleep(0.01)
        return False

    if not window.open_source(args.clip) or not wait(lambda: window.current is not None, 30):
        print(f"no frame: {window.last_error}", file=sys.stderr)
        return 1
    window.session.pause()
    if args.seek:
        window.session.seek(args.seek)
        wait(lambda: abs(window.current.frame.pts_ns / 1e9 - args.seek) < 0.2, 20)
    wait(lambda: False, 1.0)  # let the last frame paint and the window settle
    result = window.current
    screen = app.primaryScreen()
    shot = screen.grabWindow(0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not shot.save(str(args.out)):
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    if args.json:
        view = window.view
        rect = view.image_rect()
        origin = view.mapToGlobal(rect.topLeft())
        sx, sy = rect.width() / result.frame.width, rect.height() / result.frame.height
        ratio = screen.devicePixelRatio()
        boxes = [{"box": [(origin.x() + x1 * sx) * ratio, (origin.y() + y1 * sy) * ratio,
                          (origin.x() + x2 * sx) * ratio, (origin.y() + y2 * sy) * ratio],
                  "label": label, "colour_bgr": list(class_colour(int(cid)))}
                 for (x1, y1, x2, y2), cid, label in zip(result.detections.boxes.tolist(),
                                                         result.detections.class_ids, result.detections.labels,
                                                         strict=True)]  # fmt: skip
        args.json.write_text(json.dumps({"platform": app.platformName(), "boxes": boxes,
                                         "pts_s": result.frame.pts_ns / 1e9}))  # fmt: skip
    window.close()
    print(f"screenshot {args.out} ({app.platformName()}, {len(result.detections)} detections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
