"""ATSS on hand-made cases; QFL, DFL, GIoU and LD against hand-computed values."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from detector.decode import grid_points  # noqa: E402
from trainer.assign import atss_assign  # noqa: E402
from trainer.boxes import aligned_giou, pairwise_iou  # noqa: E402
from trainer.criterion import DistillWeights, GFLCriterion, Target  # noqa: E402
from trainer.losses import (  # noqa: E402
    distribution_focal_loss,
    giou_loss,
    ld_loss,
    quality_focal_loss,
    soft_quality_focal_loss,
)


def layout(size=64, strides=(8, 16), offset=0.5):
    c, s = grid_points(size, size, strides, offset)
    return torch.from_numpy(c), torch.from_numpy(s), [(size // st) ** 2 for st in strides]


def test_atss_picks_close_points_inside_the_box_and_nothing_for_empty_images():
    points, strides, sizes = layout()
    box = torch.tensor([[16.0, 16.0, 40.0, 40.0]])
    a = atss_assign(points, strides, sizes, box, topk=4, octave_base_scale=3.0)
    pos = torch.nonzero(a.positive).squeeze(1)
    assert len(pos) > 0 and (a.gt_index[pos] == 0).all()
    inside = (points[pos, 0] > 16) & (points[pos, 0] < 40) & (points[pos, 1] > 16) & (points[pos, 1] < 40)
    assert inside.all()
    # recompute the rule by hand: top-4 closest per level, threshold = mean + std of their IoUs
    anchors = torch.cat([points - 1.5 * strides[:, None], points + 1.5 * strides[:, None]], 1)
    ious = pairwise_iou(anchors, box)[:, 0]
    dist = ((points - 28.0) ** 2).sum(1).sqrt()
    cand = torch.cat([dist[:64].topk(4, largest=False).indices, 64 + dist[64:].topk(4, largest=False).indices])
    threshold = ious[cand].mean() + ious[cand].std()
    centre_in = (points[cand, 0] > 16) & (points[cand, 0] < 40) & (points[cand, 1] > 16) & (points[cand, 1] < 40)
    expected = set(cand[(ious[cand] >= threshold) & centre_in].tolist())
    assert set(pos.tolist()) == expected
    empty = atss_assign(points, strides, sizes, torch.zeros((0, 4)))
    assert not empty.positive.any()


def test_atss_gives_a_contested_point_to_the_box_it_overlaps_most():
    points, strides, sizes = layout(32, (8,))
    big = torch.tensor([[0.0, 0.0, 32.0, 32.0], [8.0, 8.0, 24.0, 24.0]])
    a = atss_assign(points, strides, sizes, big, topk=9, octave_base_scale=2.0)
    centre = int(((points[:, 0] - 12).abs() + (points[:, 1] - 12).abs()).argmin())
    assert a.gt_index[centre] == 1  # the 16 px box matches a 16 px anchor better than the 32 px one


def test_crowd_regions_are_ignored_not_negative():
    points, strides, sizes = layout()
    a = atss_assign(points, strides, sizes, torch.zeros((0, 4)), crowd=torch.tensor([[0.0, 0.0, 20.0, 20.0]]))
    assert a.ignore.sum() == 4 + 1  # stride-8 points at 4 and 12 (2x2), stride-16 point at 8


def test_qfl_matches_hand_computation():
    logits = torch.tensor([[0.0, 2.0]])
    # negative: both classes pulled to 0, scaled by p^2
    neg = quality_focal_loss(logits, torch.tensor([-1]), torch.tensor([0.0]))
    p1 = 1 / (1 + math.exp(-2.0))
    expected_neg = math.log(2) * 0.25 + (-math.log(1 - p1)) * p1**2
    assert neg.item() == pytest.approx(expected_neg, rel=1e-5)
    # positive of class 1 with soft target 0.6
    pos = quality_focal_loss(logits, torch.tensor([1]), torch.tensor([0.6]))
    bce = -(0.6 * math.log(p1) + 0.4 * math.log(1 - p1))
    assert pos.item() == pytest.approx(math.log(2) * 0.25 + bce * abs(0.6 - p1) ** 2, rel=1e-5)


def test_dfl_matches_hand_computation():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])  # uniform over 4 bins: CE = ln 4 for any bin
    assert distribution_focal_loss(logits, torch.tensor([1.3])).item() == pytest.approx(math.log(4), rel=1e-6)
    peaked = torch.tensor([[0.0, 10.0, 10.0, 0.0]])
    ce = -math.log(math.exp(10) / (2 * math.exp(10) + 2))
    assert distribution_focal_loss(peaked, torch.tensor([1.5])).item() == pytest.approx(ce, rel=1e-5)


def test_giou_matches_hand_computation():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    iou, giou = aligned_giou(a, b)
    assert iou.item() == pytest.approx(1 / 7)
    assert giou.item() == pytest.approx(1 / 7 - (9 - 7) / 9)
    assert giou_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)


def test_ld_is_zero_for_identical_distributions_and_matches_kl():
    s = torch.tensor([[1.0, 2.0, 0.5]])
    assert ld_loss(s, s.clone(), 10.0).item() == pytest.approx(0.0, abs=1e-6)
    t = torch.tensor([[0.0, 5.0, 0.0]])
    temp = 2.0
    p_t = torch.softmax(t / temp, 1)
    p_s = torch.softmax(s / temp, 1)
    kl_mean = (p_t * (p_t.log() - p_s.log())).sum() / 3
    assert ld_loss(s, t, temp).item() == pytest.approx((kl_mean * temp**2).item(), rel=1e-5)


def test_criterion_losses_fall_when_a_model_fits_one_image():
    torch.manual_seed(0)
    crit = GFLCriterion(num_classes=3, reg_max=7, strides=(8, 16), center_offset=0.0, width=64, height=64)
    raw = torch.zeros(1, 64 + 16, 3 + 32, requires_grad=True)
    target = [Target(torch.tensor([[10.0, 12.0, 40.0, 50.0]]), torch.tensor([2]), torch.zeros((0, 4)))]
    opt = torch.optim.Adam([raw], lr=0.1)
    first = None
    for _ in range(60):
        losses = crit(raw, target)
        first = first or {k: v.item() for k, v in losses.items()}
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
    assert losses["num_pos"].item() > 0
    for key in ("qfl", "giou", "dfl"):
        assert losses[key].item() < 0.5 * first[key], key
    with_teacher = crit(raw, target, teacher=torch.zeros(1, 80, 3 + 32))
    assert with_teacher["ld"].item() > 0 and "kd" not in with_teacher


def test_soft_qfl_matches_hand_computation_and_vanishes_where_student_agrees():
    logits = torch.tensor([[0.0, 2.0]])
    targets = torch.tensor([[0.3, 0.9]])
    p1 = 1 / (1 + math.exp(-2.0))
    bce0 = -(0.3 * math.log(0.5) + 0.7 * math.log(0.5))
    bce1 = -(0.9 * math.log(p1) + 0.1 * math.log(1 - p1))
    expected = bce0 * (0.3 - 0.5) ** 2 + bce1 * (0.9 - p1) ** 2
    assert soft_quality_focal_loss(logits, targets).item() == pytest.approx(expected, rel=1e-5)
    agree = torch.logit(torch.tensor([[0.2, 0.7]]))
    assert soft_quality_focal_loss(agree, torch.tensor([[0.2, 0.7]])).item() == pytest.approx(0.0, abs=1e-9)


def test_distill_weights_scale_ld_and_dense_class_distillation():
    target = [Target(torch.tensor([[10.0, 12.0, 40.0, 50.0]]), torch.tensor([2]), torch.zeros((0, 4)))]
    torch.manual_seed(0)
    raw = torch.randn(1, 80, 3 + 32)
    teacher = torch.cat([torch.rand(1, 80, 3) * 0.5, torch.randn(1, 80, 32)], dim=2)
    def crit(**w):
        return GFLCriterion(3, 7, (8, 16), 0.0, 64, 64, distill=DistillWeights(**w))
    base = crit(ld=0.0)(raw, target, teacher)
    with_ld = crit(ld=2.0)(raw, target, teacher)
    assert with_ld["loss"].item() == pytest.approx(base["loss"].item() + 2.0 * with_ld["ld"].item(), rel=1e-5)
    with_kd = crit(ld=0.0, cls=3.0)(raw, target, teacher)
    assert with_kd["kd"].item() > 0
    assert with_kd["loss"].item() == pytest.approx(base["loss"].item() + 3.0 * with_kd["kd"].item(), rel=1e-5)
    # a student whose scores equal the teacher's everywhere gets no class-distillation loss
    copied = raw.clone()
    copied[..., :3] = torch.logit(teacher[..., :3])
    assert crit(cls=1.0)(copied, target, teacher)["kd"].item() == pytest.approx(0.0, abs=1e-7)
