"""Model package metadata: round trip, validation, and clear errors for bad files."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from detector.coco_names import COCO_CLASSES
from detector.errors import ModelPackageError
from detector.package import PackageMeta, read_meta, write_meta


def make_meta(**changes) -> PackageMeta:
    base = dict(name="t", class_names=("a", "b"), input_width=64, input_height=32, strides=(8, 16), reg_max=3)
    base.update(changes)
    return PackageMeta(**base)


def tiny_model() -> onnx.ModelProto:
    node = helper.make_node("Identity", ["images"], ["output"])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 4, 4])],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_metadata_round_trips_through_an_onnx_file(tmp_path):
    meta = make_meta(center_offset=0.5, resize="letterbox", color="rgb", extra={"k": 1})
    model = tiny_model()
    write_meta(model, meta)
    write_meta(model, meta)  # writing twice replaces, never duplicates
    assert sum(p.key == "kestrel" for p in model.metadata_props) == 1
    onnx.save(model, tmp_path / "m.onnx")
    assert read_meta(tmp_path / "m.onnx") == meta


def test_points_and_channels_follow_the_metadata():
    meta = make_meta(class_names=COCO_CLASSES, input_width=416, input_height=416, strides=(8, 16, 32, 64), reg_max=7)
    assert meta.num_points() == 52 * 52 + 26 * 26 + 13 * 13 + 7 * 7
    assert meta.output_channels == 80 + 32
    assert meta.with_changes(output_layout="gfl_distances").output_channels == 84


@pytest.mark.parametrize(
    "changes, fragment",
    [
        (dict(class_names=()), "class_names is empty"),
        (dict(strides=(8, 0)), "strides"),
        (dict(reg_max=0), "reg_max"),
        (dict(resize="crop"), "resize 'crop'"),
        (dict(color="yuv"), "color 'yuv'"),
        (dict(std=(1.0, 0.0, 1.0)), "std"),
        (dict(center_offset=1.0), "center_offset"),
        (dict(output_layout="boxes"), "output_layout"),
    ],
)
def test_invalid_metadata_names_the_bad_field(changes, fragment):
    with pytest.raises(ModelPackageError, match=fragment):
        make_meta(**changes)


def test_unknown_fields_and_bad_json_are_refused():
    with pytest.raises(ModelPackageError, match="unknown metadata fields"):
        PackageMeta.from_json('{"name": "x", "colour": "red"}')
    with pytest.raises(ModelPackageError, match="not valid JSON"):
        PackageMeta.from_json("{not json")
    with pytest.raises(ModelPackageError, match="incomplete"):
        PackageMeta.from_json('{"name": "x"}')


def test_files_that_are_not_packages_give_clear_errors(tmp_path):
    with pytest.raises(ModelPackageError, match="not found"):
        read_meta(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(ModelPackageError, match="not a readable ONNX file"):
        read_meta(junk)
    bare = tmp_path / "bare.onnx"
    onnx.save(tiny_model(), bare)
    with pytest.raises(ModelPackageError, match="without Kestrel metadata"):
        read_meta(bare)
