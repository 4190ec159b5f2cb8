"""The desktop GUI, driven for real: offscreen Qt on real clips, and once on Xvfb with the xcb platform."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, need_shared

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PyQt6.QtWidgets", reason="the GUI needs PyQt6 (the gui extra)")
pytest.importorskip("pytestqt", reason="needs pytest-qt")
pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")

from PyQt6.QtCore import QPoint, QSettings, Qt  # noqa: E402

from app.capture.gst_capture import GstCapture  # noqa: E402
from app.capture.spec import SourceSpec  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402

SAMPLE = ROOT / "assets" / "sample.mp4"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def gui_model(tmp_path_factory) -> Path:
    """The bundled default model when it exists, else NanoDet-Plus-m 416 imported from ../shared."""
    from app.models import DEFAULT

    if DEFAULT.exists():
        return DEFAULT
    from detector.ncnn.importer import import_ncnn

    out = tmp_path_factory.mktemp("gui") / "plus416.onnx"
    import_ncnn(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), out)
    return out


@pytest.fixture
def window(qtbot, tmp_path, gui_model, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = QSettings(str(tmp_path / "kestrel.ini"), QSettings.Format.IniFormat)
    settings.setValue("analyse_files", "false")  # the file-analysis test turns it on; the others test playback
    win = MainWindow(settings, gui_model, tmp_path / "out")
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    yield win
    win.close()


def kestrel_threads() -> list[str]:
    names = ("kestrel-", "_capture", "_detect", "_sinks")
    return [t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(names)]


def shown_pts(win) -> int:
    return win.current.frame.pts_ns if win.current is not None else -1


def settled_pts(qtbot, win, quiet_ms: int = 500) -> int:
    """The shown frame once no new one has come for ``quiet_ms`` (frames decoded before a pause may still land
    under load); fails after WAIT_MS if frames keep coming."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        before = shown_pts(win)
        qtbot.wait(quiet_ms)
        if shown_pts(win) == before:
            return before
    raise AssertionError("frames kept coming after pause")


def test_file_playback_pause_step_seek_and_thresholds(qtbot, window):
    clip = str(need_shared("data", "videos", "highway-720p.mp4"))
    source_pts = [f.pts_ns for f in GstCapture(SourceSpec.parse(clip)).open()]
    assert window.open_source(clip)
    qtbot.waitUntil(lambda: window.shown_frames >= 5, timeout=WAIT_MS)  # plays
    assert window.transport.play_button.text() == "Pause" and window.transport.slider.isEnabled()
    qtbot.keyClick(window, " ")  # Space pauses
    qtbot.waitUntil(lambda: window.transport.play_button.text() == "Play", timeout=WAIT_MS)
    paused = settled_pts(qtbot, window)
    qtbot.wait(1000)
    assert shown_pts(window) == paused  # really paused
    i = source_pts.index(paused)
    window.transport.forward_button.click()
    qtbot.waitUntil(lambda: shown_pts(window) == source_pts[i + 1], timeout=WAIT_MS)
    qtbot.keyClick(window, "]")  # faster, and Right steps too
    assert window.transport.speed_box.currentText() == "2x"
    window.session.step(1)
    qtbot.waitUntil(lambda: shown_pts(window) == source_pts[i + 2], timeout=WAIT_MS)
    window.transport.back_button.click()
    qtbot.waitUntil(lambda: shown_pts(window) == source_pts[i + 1], timeout=WAIT_MS)
    window.transport.seekRequested.emit(10.0)  # what the slider sends
    target = next(p for p in source_pts if p >= 10e9)
    qtbot.waitUntil(lambda: shown_pts(window) == target, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.transport.slider.value() == int(target / 1e6), timeout=WAIT_MS)
    window.session.step(-1)  # back across the seek: the exact previous frame
    qtbot.waitUntil(lambda: shown_pts(window) == source_pts[source_pts.index(target) - 1], timeout=WAIT_MS)
    # moving the confidence slider re-thresholds the paused frame at once
    window.detection_panel.conf.setValue(80)
    qtbot.waitUntil(lambda: window.detector.conf == pytest.approx(0.8), timeout=WAIT_MS)
    qtbot.wait(300)
    strict = len(window.current.detections)
    window.detection_panel.conf.setValue(5)
    qtbot.waitUntil(lambda: len(window.current.detections) > strict, timeout=WAIT_MS)
    assert window.current.frame.pts_ns == source_pts[source_pts.index(target) - 1]  # the same frame
    window.detection_panel.classes.setText("car")
    window.detection_panel.classes.editingFinished.emit()
    qtbot.waitUntil(lambda: set(window.current.detections.labels) <= {"car"}, timeout=WAIT_MS)
    window.detection_panel.classes.setText("unicorn")
    window.detection_panel.classes.editingFinished.emit()
    assert "unknown class" in window.detection_panel.classes.toolTip()
    assert window.stats_panel.labels["detect"].text().endswith("ms")


def test_pausing_while_frames_are_skipped_shows_the_frame_steps_start_from(qtbot, window):
    """At 4x a 720p clip outruns the detector, so frames are decoded but skipped; pausing then shows the
    session's own frame, and a step forward shows exactly the next one."""
    clip = str(need_shared("data", "videos", "highway-720p.mp4"))
    source_pts = [f.pts_ns for f in GstCapture(SourceSpec.parse(clip)).open()]
    assert window.open_source(clip)
    qtbot.waitUntil(lambda: window.shown_frames >= 2, timeout=WAIT_MS)
    window.session.set_speed(4.0)
    qtbot.waitUntil(lambda: window.session.skipped >= 3, timeout=WAIT_MS)
    window.session.pause()
    paused = settled_pts(qtbot, window)
    assert paused == window.session.current.pts_ns
    window.transport.forward_button.click()
    qtbot.waitUntil(lambda: shown_pts(window) == source_pts[source_pts.index(paused) + 1], timeout=WAIT_MS)


def test_record_snapshot_switch_source_and_close_mid_stream(qtbot, window, tmp_path):
    assert window.open_source(str(SAMPLE))
    qtbot.waitUntil(lambda: window.shown_frames >= 3, timeout=WAIT_MS)
    recording = window.start_recording(tmp_path / "rec.mkv")
    qtbot.waitUntil(lambda: window.processor.recorder.sink.frames >= 20, timeout=WAIT_MS)
    snap = window.snapshot(tmp_path / "snap.png")
    assert np.array_equal(cv2.imread(str(snap)), window.current.annotated)  # PNG with the overlay
    assert not np.array_equal(window.current.annotated, window.current.frame.image)
    path, frames = window.stop_recording()
    assert path == recording and frames >= 20
    decoded = list(GstCapture(SourceSpec.parse(str(path))).open())
    assert len(decoded) == frames and decoded[0].image.shape == window.current.annotated.shape
    # switch to another clip while playing
    other = str(need_shared("data", "videos", "dashcam-crash-320x180.mp4"))
    window.record_button.setChecked(True)  # recording through a switch is finished, not lost
    qtbot.waitUntil(lambda: window.processor.recorder.sink.frames >= 2, timeout=WAIT_MS)
    assert window.open_source(other)
    assert not window.record_button.isChecked()
    recorded = sorted((tmp_path / "out").glob("kestrel-*.mkv"))
    assert len(recorded) == 1 and len(list(GstCapture(SourceSpec.parse(str(recorded[0]))).open())) >= 2
    qtbot.waitUntil(lambda: window.current.frame.image.shape == (180, 320, 3), timeout=WAIT_MS)
    assert window.windowTitle().endswith("dashcam-crash-320x180.mp4")
    window.close()  # mid-stream
    assert window.session is None and not kestrel_threads()


def test_live_test_pattern_counts_drops_and_stops(qtbot, window):
    assert window.open_source("test")
    qtbot.waitUntil(lambda: window.shown_frames >= 10, timeout=WAIT_MS)
    assert not window.transport.slider.isEnabled()  # no seeking live
    qtbot.waitUntil(lambda: "capture" in window.stats_panel.labels, timeout=WAIT_MS)
    assert window.stats_panel.labels["capture"].text().endswith("fps")
    window.stop_session()
    assert not kestrel_threads()


@pytest.mark.parametrize("case", ["missing", "not-a-video", "unreachable-rtsp", "bad-model", "lying-model"])
def test_errors_are_dialogs_never_crashes_or_hangs(qtbot, window, tmp_path, case):
    if case == "missing":
        assert not window.open_source(str(tmp_path / "nope.mp4"))
        expected = "no such file"
    elif case == "not-a-video":
        junk = tmp_path / "junk.mp4"
        junk.write_text("this is not a video\n" * 50)
        assert window.open_source(str(junk))  # fails in the worker, reported as a dialog
        expected = "junk.mp4"
    elif case == "unreachable-rtsp":
        assert window.open_source("rtsp://user:secret@127.0.0.1:9/stream")
        expected = "rtsp://***@127.0.0.1:9/stream"
    elif case == "bad-model":
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(b"\x00garbage" * 100)
        assert not window.load_model(bad)
        expected = "bad.onnx"
    else:  # a valid ONNX file whose metadata promises an input size its graph cannot take
        from tests.test_faults import repackaged

        before = window.settings.value("model")
        lying = repackaged(tmp_path, "lying", input_width=416, input_height=416)
        assert not window.load_model(lying)
        assert window.settings.value("model") == before  # never saved as the default
        expected = "does not run on the 416x416 input"
    qtbot.waitUntil(lambda: expected in window.last_error, timeout=WAIT_MS)
    assert "secret" not in window.last_error and "secret" not in window.event_log.toPlainText()
    assert window.isVisible()
    window.stop_session()
    assert not kestrel_threads()


def test_settings_remember_sources_thresholds_and_layout(qtbot, tmp_path, gui_model):
    ini = tmp_path / "kestrel.ini"
    first = MainWindow(QSettings(str(ini), QSettings.Format.IniFormat), gui_model, tmp_path)
    qtbot.addWidget(first)
    first.detection_panel.conf.setValue(42)
    first.open_source("rtsp://127.0.0.1:9/a")
    first.close()
    second = MainWindow(QSettings(str(ini), QSettings.Format.IniFormat), None, tmp_path)
    qtbot.addWidget(second)
    assert second.detector is not None and second.detector.conf == pytest.approx(0.42)
    assert second.source_panel.url.itemText(0) == "rtsp://127.0.0.1:9/a"
    second.close()


def test_rtsp_credentials_are_never_stored_in_settings(qtbot, tmp_path, gui_model):
    ini = tmp_path / "kestrel.ini"
    win = MainWindow(QSettings(str(ini), QSettings.Format.IniFormat), gui_model, tmp_path)
    qtbot.addWidget(win)
    typed = "rtsp://admin:p@ss/w0rd@127.0.0.1:9/cam?channel=1&token=t0ken"
    win.open_source(typed)
    stored = "rtsp://127.0.0.1:9/cam?channel=1"
    assert win.source_panel.url.itemText(0) == stored
    assert win.session_urls[stored] == typed  # this session can reopen it without retyping
    win.close()
    raw = ini.read_bytes().replace(b"\\0", b"")  # Qt writes string lists as escaped UTF-16
    assert not any(secret in raw for secret in (b"p@ss", b"w0rd", b"t0ken", b"admin"))
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("rtsp_history") == [stored]


def test_a_recording_that_fails_is_reported_and_the_button_released(qtbot, window, tmp_path):
    assert window.open_source(str(SAMPLE))
    qtbot.waitUntil(lambda: window.shown_frames >= 1, timeout=WAIT_MS)
    assert window.start_recording(Path("/proc/kestrel-gui.mkv")) is None
    assert "cannot record" in window.last_error and not window.record_button.isChecked()


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian xvfb)")
def test_real_x11_window_shows_the_overlay(tmp_path, gui_model):
    """The window on Xvfb with the xcb platform; the screenshot must hold the class colours on the boxes."""
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        display = xvfb.stdout.readline().strip()
        env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb"}
        shot, boxes = tmp_path / "gui.png", tmp_path / "boxes.json"
        cmd = [sys.executable, str(ROOT / "scripts" / "gui_screenshot.py"), str(SAMPLE), "--model", str(gui_model),
               "--out", str(shot), "--json", str(boxes), "--seek", "4"]  # fmt: skip
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        xvfb.kill()
        xvfb.wait()
    info = json.loads(boxes.read_text())
    assert info["platform"] == "xcb" and info["boxes"]
    image = cv2.imread(str(shot)).astype(int)

    def boxes_seen(shift_px: float) -> int:
        found = 0
        for det in info["boxes"]:
            x1, y1, x2, y2 = det["box"]
            colour = np.array(det["colour_bgr"])
            # the box's left and right edges, sampled along their height, within 2 px of the drawn line
            hits = []
            for x in (x1 + shift_px, x2 + shift_px):
                for y in np.linspace(y1 + 0.25 * (y2 - y1), y2 - 0.1 * (y2 - y1), 8):
                    patch = image[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3]
                    hits.append(bool((np.abs(patch - colour).sum(axis=2) < 90).any()))
            found += np.mean(hits) >= 0.75
        return found

    count = len(info["boxes"])
    assert boxes_seen(0) >= 0.8 * count, f"{boxes_seen(0)} of {count} boxes seen in the screenshot"
    assert boxes_seen(12) < 0.5 * count  # control: 12 px beside the boxes the colours are not there


def test_kestrel_gui_command_plays_and_closes_cleanly_on_ctrl_c(tmp_path, gui_model):
    import signal
    import time

    ini = tmp_path / "kestrel.ini"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "gui", str(SAMPLE), "--model", str(gui_model),
                             "--settings", str(ini)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(4)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    recent = settings.value("recent_files")
    assert settings.value("model") == str(gui_model)
    assert str(SAMPLE) in ([recent] if isinstance(recent, str) else recent)


def test_a_recording_that_fills_the_disk_stops_with_a_dialog(qtbot, window, tmp_path):
    """RLIMIT_FSIZE (soft, restored after) makes every file past 300 kB fail with EFBIG, as a full disk does."""
    import resource

    clip = str(need_shared("data", "videos", "highway-720p.mp4"))
    assert window.open_source(clip)
    qtbot.waitUntil(lambda: window.shown_frames >= 1, timeout=WAIT_MS)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, hard))
    try:
        window.record_button.setChecked(True)
        qtbot.waitUntil(lambda: "recording stopped" in window.last_error, timeout=WAIT_MS)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "disk is full" in window.last_error and not window.record_button.isChecked()
    recorded = next((tmp_path / "out").glob("*.mkv"))
    assert len([f for f in GstCapture(SourceSpec.parse(str(recorded))).open()]) >= 1
    window.stop_session()
    assert not kestrel_threads()


def test_objects_panel_lists_tracked_objects_and_a_click_seeks_to_the_first_frame(qtbot, window):
    assert window.open_source(str(SAMPLE))
    qtbot.waitUntil(lambda: window.objects_panel.rowCount() >= 3, timeout=WAIT_MS)
    window._command("pause")
    panel = window.objects_panel
    row = panel.rowCount() - 1
    object_id, first = int(panel.item(row, 0).text()), panel.first[int(panel.item(row, 0).text())]
    assert panel.item(row, 1).text() and panel.item(row, 4).text() in ("moving", "stationary", "gone")
    rect = panel.visualItemRect(panel.item(row, 0))
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.selected_object == object_id
    qtbot.waitUntil(lambda: abs(shown_pts(window) / 1e9 - first) < 0.11, timeout=WAIT_MS)
    assert window.current.detections.track_ids is not None  # the view shows tracked objects with their ids
    window.stop_session()


def test_rules_editor_draws_a_line_by_clicks_drags_a_vertex_saves_and_reloads(qtbot, window, tmp_path):
    from PyQt6.QtCore import QPoint

    assert window.open_source(str(SAMPLE))
    qtbot.waitUntil(lambda: window.shown_frames >= 2, timeout=WAIT_MS)
    window._command("pause")
    view, editor = window.view, window.rules_editor

    def click(x: float, y: float) -> None:
        point = view.to_widget(x, y)
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(point.x()), round(point.y())))

    editor.name.setText("door")
    editor.classes.setText("person")
    qtbot.mouseClick(editor.buttons["Line"], Qt.MouseButton.LeftButton)
    click(384, 100)
    click(384, 560)  # the second point closes a line
    assert [s["name"] for s in editor.shapes] == ["door"] and editor.mode is None
    start = view.to_widget(384, 100)  # drag its first vertex 100 px to the right
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(start.x()), round(start.y())))
    end = view.to_widget(484, 100)
    qtbot.mouseMove(view, pos=QPoint(round(end.x()), round(end.y())))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(round(end.x()), round(end.y())))
    moved = editor.shapes[0]["points"][0]
    assert abs(moved[0] - 484) < 3 and abs(moved[1] - 100) < 3
    qtbot.waitUntil(lambda: "door" in window.stats_panel.labels, timeout=WAIT_MS)  # counts shown live
    saved = tmp_path / "rules.yaml"
    editor.save(saved)
    drawn = editor.rules()
    editor.shapes = []
    editor.load(saved)
    again = editor.rules()
    assert [ln.name for ln in again.lines] == ["door"] and again.lines[0].classes == ("person",)
    assert np.allclose(again.lines[0].points, drawn.lines[0].points)
    qtbot.mouseClick(editor.buttons["Zone"], Qt.MouseButton.LeftButton)
    click(100, 100)
    click(200, 100)
    assert not editor.finish() and "at least 3 points" in window.last_error  # a two-point zone is refused
    window.stop_session()


def test_an_opened_file_is_analysed_in_the_background_and_n_jumps_to_its_close_approach(qtbot, window):
    clip = str(need_shared("data", "videos", "dashcam-crash-320x180.mp4"))
    review = window.review
    review.auto.setChecked(True)
    assert window.open_source(clip)
    assert review.bar.isVisible()
    qtbot.waitUntil(lambda: review.analysis is not None, timeout=120_000)  # progress in the strip meanwhile
    assert not review.timeline.progress and review.timeline.counts["car"]
    warning = next(e for e in review.analysis.events if e["type"] == "close_approach")
    window._command("pause")
    review.filter.setCurrentText("close approach")
    window._command("seek", 0.0)
    qtbot.waitUntil(lambda: shown_pts(window) == 0, timeout=WAIT_MS)
    qtbot.keyClick(window, "n")  # N: the next close approach
    qtbot.waitUntil(lambda: abs(shown_pts(window) / 1e9 - warning["pts_s"]) < 0.05, timeout=WAIT_MS)
    assert review.jump(1) is None  # it was the only one
    assert review.jump(-1) is None  # and nothing before it
    messages = []
    review.message.connect(messages.append)
    review.export_button.click()  # the incident: 5 s either side (the clip is 3.7 s), with the overlay
    qtbot.waitUntil(lambda: any(m.startswith("exported") for m in messages), timeout=60_000)
    exported = window.output_dir / f"dashcam-crash-320x180-event{warning['event']}.mp4"
    assert len(list(GstCapture(SourceSpec.parse(str(exported))).open())) == 89  # the whole clip, every frame
    panel = window.objects_panel  # the whole file's objects, with their snapshots
    assert panel.whole_file and panel.rowCount() == len(review.analysis.tracks)
    assert any(not panel.item(r, 0).icon().isNull() for r in range(panel.rowCount()))
    # clicking the strip seeks; a second open of the file shows its analysis at once, from the cache
    x = int(review.timeline.x_of(1.0))
    qtbot.mouseClick(review.timeline, Qt.MouseButton.LeftButton, pos=review.timeline.rect().topLeft() + QPoint(x, 5))
    qtbot.waitUntil(lambda: abs(shown_pts(window) / 1e9 - 1.0) < 0.1, timeout=WAIT_MS)
    assert window.open_source(clip)
    assert review.analysis is not None and review.thread is None
    window.stop_session()
