"""Partially labelled sets: classes a set's labels leave out learn from the teacher, never from "background"."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from detector.errors import KestrelError  # noqa: E402
from tests.trainer_fixtures import TINY_MODEL, tiny_config  # noqa: E402
from trainer.config import DatasetConfig, TrainConfig, from_dict  # noqa: E402
from trainer.criterion import GFLCriterion, Target  # noqa: E402
from trainer.data.build import build_source  # noqa: E402
from trainer.data.mixing import mosaic  # noqa: E402
from trainer.data.sample import Sample  # noqa: E402


def class_grad(covered, teacher_prob: float = 0.9) -> torch.Tensor:
    """d(loss)/d(logit) of every class at every point of an image with no boxes, the teacher saying
    ``teacher_prob`` for class 1 everywhere."""
    crit = GFLCriterion(3, 7, (8, 16), 0.0, 64, 64)
    p = sum(crit.level_sizes)
    raw = torch.zeros(1, p, 3 + 32, requires_grad=True)
    teacher = torch.zeros(1, p, 3 + 32)
    teacher[..., 1] = teacher_prob
    empty = Target(torch.zeros((0, 4)), torch.zeros((0,), dtype=torch.long), torch.zeros((0, 4)), covered)
    crit(raw, [empty], teacher)["qfl"].backward()
    return raw.grad[0, :, :3]


def test_a_class_the_labels_leave_out_follows_the_teacher_not_background():
    full = class_grad(None)
    assert (full[:, 1] > 0).all()  # fully labelled, no box: class 1 is pushed down (background)
    partial = class_grad(frozenset({0, 2}))
    assert (partial[:, 1] < 0).all()  # not covered: pushed up towards the teacher's 0.9
    assert (partial[:, 0] > 0).all() and (partial[:, 2] > 0).all()  # covered classes: still background
    assert torch.allclose(partial[:, 0], full[:, 0])


def test_a_partial_image_without_a_teacher_is_refused_by_the_criterion():
    crit = GFLCriterion(3, 7, (8, 16), 0.0, 64, 64)
    raw = torch.zeros(1, sum(crit.level_sizes), 35)
    empty = Target(torch.zeros((0, 4)), torch.zeros((0,), dtype=torch.long), torch.zeros((0, 4)), frozenset({0}))
    with pytest.raises(ValueError, match="teacher"):
        crit(raw, [empty])


def test_coverage_comes_from_the_config_and_mixed_images_keep_only_what_every_part_covers(tmp_path):
    data = tiny_config(tmp_path)
    spec = data["data"]["train"][0]
    source = build_source(DatasetConfig(**spec, classes=("a", "c")), ("a", "b", "c"))
    assert source[0].covered == frozenset({0, 2})
    assert build_source(DatasetConfig(**spec, classes=("a", "b", "c")), ("a", "b", "c"))[0].covered is None
    with pytest.raises(KestrelError, match="unicorn"):
        build_source(DatasetConfig(**spec, classes=("unicorn",)), ("a", "b", "c"))
    image = np.zeros((32, 32, 3), np.uint8)
    parts = [Sample(image, covered=frozenset({0, 2})), Sample(image, covered=frozenset({0, 1})), Sample(image),
             Sample(image)]  # fmt: skip
    mixed = mosaic(parts, np.random.default_rng(0), 32, 32)
    assert mixed.covered == frozenset({0})


def test_training_on_a_partial_set_needs_a_teacher_and_takes_its_boxes_for_other_classes(tmp_path):
    from detector.models import build_model
    from detector.models.export import export_package, package_meta
    from trainer.loop import Trainer, collate

    data = tiny_config(tmp_path)
    data["data"]["train"][0]["classes"] = ["person"]
    data["model"] = {**TINY_MODEL}
    with pytest.raises(KestrelError, match="teacher"):
        Trainer(from_dict(TrainConfig, data), progress=False)
    teacher_model = build_model(from_dict(TrainConfig, {"model": TINY_MODEL}).model_config())
    teacher = export_package(teacher_model, package_meta(teacher_model, 64), tmp_path / "teacher.onnx")
    data["distill"] = {"teacher": str(teacher), "weight": 0.5, "pseudo_threshold": 0.0}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    trainer.dataset.set_epoch(0)
    images, targets, labeled = collate([trainer.dataset[i] for i in trainer.batches(0)[0]])
    assert all(t.covered == frozenset({0}) for t in targets)
    stats = trainer.train_step(images, targets, labeled)
    assert np.isfinite(stats["loss"]) and stats["qfl"] > 0
    # the target: real boxes of the covered class, the teacher's boxes of the others (its person box dropped)
    from detector.detections import Detections

    real = Target(torch.tensor([[1.0, 1, 20, 20], [5, 5, 30, 30]]), torch.tensor([0, 2]), torch.zeros((0, 4)),
                  frozenset({0}))  # fmt: skip
    det = Detections(np.array([[2, 2, 21, 21], [40, 40, 60, 60]], np.float32), np.array([0.9, 0.8], np.float32),
                     np.array([0, 1], np.int32))  # fmt: skip
    done = trainer._completed_target(real, det)
    assert done.labels.tolist() == [0, 1] and done.boxes[1].tolist() == [40, 40, 60, 60]
    assert done.covered == frozenset({0})
