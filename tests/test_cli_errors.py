"""Bad input gets one clear error line and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import need_shared


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def assert_one_error(code: int, err: list[str], fragment: str) -> None:
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("kestrel: error: ") and fragment in err[0], err[0]


def test_missing_files(tmp_path, capsys):
    assert_one_error(*run_cli(["import", tmp_path / "nope.param", "-o", tmp_path / "x.onnx"], capsys), "no such file")
    assert_one_error(*run_cli(["info", tmp_path / "nope.onnx"], capsys), "not found")
    assert_one_error(*run_cli(["detect", tmp_path / "nope.onnx", tmp_path / "a.jpg"], capsys), "not found")


def copy_ncnn(tmp_path: Path, name: str = "nanodet-plus-m_320") -> Path:
    for ext in (".param", ".bin"):
        shutil.copy(need_shared("weights", "nanodet", name + ext), tmp_path / (name + ext))
    return tmp_path / (name + ".param")


def test_truncated_bin(tmp_path, capsys):
    param = copy_ncnn(tmp_path)
    binf = param.with_suffix(".bin")
    binf.write_bytes(binf.read_bytes()[: binf.stat().st_size // 2])
    assert_one_error(*run_cli(["import", param, "-o", tmp_path / "x.onnx"], capsys), "is truncated")
    assert not (tmp_path / "x.onnx").exists()


def test_param_with_an_unknown_layer(tmp_path, capsys):
    param = copy_ncnn(tmp_path)
    lines = param.read_text().splitlines()
    original_type = lines[3].split()[0]
    lines[3] = lines[3].replace(original_type, "FancyPool", 1)
    param.write_text("\n".join(lines) + "\n")
    code, err = run_cli(["import", param, "-o", tmp_path / "x.onnx"], capsys)
    assert_one_error(code, err, "FancyPool")
    assert "not supported" in err[0] and ":4:" in err[0]  # names the file line


def test_not_an_ncnn_param(tmp_path, capsys):
    fake = tmp_path / "model.param"
    fake.write_text("hello\n")
    fake.with_suffix(".bin").write_bytes(b"")
    assert_one_error(*run_cli(["import", fake, "-o", tmp_path / "x.onnx"], capsys), "not an ncnn text .param")


def test_checkpoint_with_pickled_code(tmp_path, capsys):
    pytest.importorskip("torch", reason="checkpoint import needs torch")
    import os
    import pickle

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    bad = tmp_path / "evil.ckpt"
    bad.write_bytes(pickle.dumps({"state_dict": {"w": Exploit()}}))
    assert_one_error(*run_cli(["import", bad, "-o", tmp_path / "x.onnx"], capsys), "pickled objects other than tensors")
    assert not (tmp_path / "pwned").exists()


def test_an_image_that_is_not_an_image(plus320, tmp_path, capsys):
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is text, not a JPEG")
    assert_one_error(*run_cli(["detect", plus320, fake], capsys), "is not an image")


def test_a_model_file_that_is_not_onnx(tmp_path, capsys):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"\x08\x01garbage" * 50)
    assert_one_error(*run_cli(["detect", fake, fake], capsys), "cannot be loaded by ONNX Runtime")


def test_detect_prints_json_lines(plus320, tiny_val_images, capsys):
    import json

    assert main(["detect", str(plus320), str(tiny_val_images[0]), "--conf", "0.3"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["image"].endswith(".jpg") and line["detections"]
    assert all(d["score"] >= 0.3 for d in line["detections"])
