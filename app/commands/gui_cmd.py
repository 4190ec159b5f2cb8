"""kestrel gui: the desktop window — live cameras, files with replay controls, RTSP streams."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from detector.errors import KestrelError

from .arg_types import model_ref


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gui",
        help="open the desktop window (cameras, files, RTSP; replay, record, snapshot)",
        description="Open Kestrel's window. SOURCE (optional) is what `kestrel run` takes: a video file, an "
        "RTSP URL, /dev/videoN or 'test'. Files get replay controls: Space play/pause, Left/Right one frame, "
        "[ and ] speed, the slider seeks. Ctrl+R records the annotated video, Ctrl+S saves a snapshot. "
        "Sources, window layout and settings are remembered between runs.",
    )
    p.add_argument("source", nargs="?", help="video file, RTSP URL, /dev/videoN or 'test'")
    p.add_argument("--model", type=model_ref,
                   help="model package or triton://HOST:PORT/MODEL (default: the last one used, else the bundled one)")
    p.add_argument("--settings", type=Path, help="settings file (INI) instead of the user's Kestrel settings")
    p.add_argument("--output-dir", type=Path, help="where recordings and snapshots go (default ./kestrel-output)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from PyQt6.QtCore import QSettings, QTimer
        from PyQt6.QtWidgets import QApplication
    except ImportError as exc:
        raise KestrelError(f"the GUI needs PyQt6 ({exc}): pip install 'kestrel-vision[gui]'") from None
    from ..gui.main_window import MainWindow
    from .run_cmd import default_model

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Kestrel")
    app.setOrganizationName("Kestrel")
    settings = QSettings(str(args.settings), QSettings.Format.IniFormat) if args.settings else QSettings()
    model = args.model
    if model is None and not settings.value("model", ""):
        try:
            model = default_model()
        except KestrelError as exc:
            print(f"kestrel: {exc}; open a model from the window", file=sys.stderr)
    window = MainWindow(settings, model, args.output_dir)
    window.show()
    if args.source:
        window.open_source(args.source)
    signal.signal(signal.SIGINT, lambda *_: window.close())  # Ctrl-C in the terminal closes cleanly
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)  # lets Python run its signal handlers while Qt waits
    ticker.start(200)
    return int(app.exec())
