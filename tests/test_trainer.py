"""The training loop: exact resume, 2:4 masks through training and export, configs, teachers, DDP."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch", reason="the trainer needs torch")

from tests.conftest import ROOT, need_shared  # noqa: E402
from tests.trainer_fixtures import TINY_MODEL, tiny_config, write_coco_json  # noqa: E402
from trainer.config import TrainConfig, from_dict, load_config  # noqa: E402
from trainer.loop import Trainer, collate  # noqa: E402
from trainer.sparsity import is_eligible, mask_2_of_4  # noqa: E402
from trainer.typed_config import ConfigError  # noqa: E402


def first_batch(trainer: Trainer, epoch: int):
    trainer.dataset.set_epoch(epoch)
    return collate([trainer.dataset[i] for i in trainer.batches(epoch)[0]])


def test_resume_gives_a_bit_identical_next_step(tmp_path):
    cfg = from_dict(TrainConfig, tiny_config(tmp_path))
    a = Trainer(cfg, progress=False)
    a.run_epoch()
    a.epoch, a.step_in_epoch = 1, 0
    a.save()
    b = Trainer(cfg, progress=False)  # resumes from runs/t/last
    assert b.global_step == a.global_step > 0
    for t in (a, b):
        t.train_step(*first_batch(t, 1))
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    for pa, pb in zip(a.ema.ema.state_dict().values(), b.ema.ema.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_freeze_bn_keeps_running_statistics_while_weights_train(tmp_path):
    cfg = from_dict(TrainConfig, tiny_config(tmp_path, epochs=1, freeze_bn=True, ema_decay=0.0))
    trainer = Trainer(cfg, progress=False)
    bns = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [b.running_mean.clone() for b in bns]
    weights = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.run_epoch()
    assert all(torch.equal(a, b.running_mean) for a, b in zip(before, bns, strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(weights, trainer.model.parameters(), strict=True))


def test_mask_keeps_the_two_largest_of_every_four_input_channels():
    w = torch.tensor([[[[0.1]], [[-0.9]], [[0.5]], [[0.2]], [[3.0]], [[-2.0]], [[0.0]], [[1.0]]]])  # (1, 8, 1, 1)
    mask = mask_2_of_4(w)
    assert mask.flatten().tolist() == [False, True, True, False, True, True, False, False]
    conv = torch.nn.Conv2d(32, 16, 3)
    m = mask_2_of_4(conv.weight)
    groups = m.permute(0, 2, 3, 1).reshape(-1, 4)
    assert (groups.sum(1) == 2).all()
    kept = conv.weight.detach().abs().permute(0, 2, 3, 1).reshape(-1, 4)
    assert (kept[groups].reshape(-1, 2).min(1).values >= kept[~groups].reshape(-1, 2).max(1).values).all()


def test_eligibility_rule_skips_depthwise_stem_and_odd_channels():
    assert is_eligible(torch.nn.Conv2d(32, 16, 1))
    assert not is_eligible(torch.nn.Conv2d(32, 32, 3, groups=32))  # depthwise
    assert not is_eligible(torch.nn.Conv2d(3, 32, 3))  # stem
    assert not is_eligible(torch.nn.Conv2d(24, 16, 1))  # input channels not a multiple of 16
    assert not is_eligible(torch.nn.Conv2d(32, 12, 1))  # output channels not a multiple of 8


def test_skipped_layers_stay_dense(tmp_path):
    data = tiny_config(tmp_path, epochs=1)
    data["sparsity"] = {"enabled": True, "skip": ["backbone.body.blocks.0", "head"]}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    eligible = [n for n, m in trainer.model.named_modules() if is_eligible(m)]
    skipped = [n for n in eligible if n.startswith(("backbone.body.blocks.0", "head"))]
    assert skipped and trainer.masks
    assert sorted(trainer.masks) == sorted(set(eligible) - set(skipped))


def test_masks_survive_training_ema_bn_folding_and_export(tmp_path):
    from detector.sparsity_report import sparsity_report

    data = tiny_config(tmp_path, epochs=1)
    data["sparsity"] = {"enabled": True}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    masks = {k: v.clone() for k, v in trainer.masks.items()}
    assert masks
    path = trainer.fit()
    modules = dict(trainer.model.named_modules())
    ema_modules = dict(trainer.ema.ema.named_modules())
    for name, mask in masks.items():
        assert (modules[name].weight[~mask] == 0).all() and (ema_modules[name].weight[~mask] == 0).all()
        assert (modules[name].weight[mask] != 0).float().mean() > 0.99  # the kept half is still learning
    rows = [r for r in sparsity_report(path) if r.eligible]
    assert len(rows) == len(masks) and all(r.compliance == 1.0 for r in rows)


def test_config_errors_name_the_bad_field(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({"optim": {"lr": "fast"}}))
    with pytest.raises(ConfigError, match=r"optim\.lr: expected a number"):
        load_config(str(cfg_file))
    cfg_file.write_text(yaml.safe_dump({"optim": {"epoch": 3}}))
    with pytest.raises(ConfigError, match=r"optim\.epoch: unknown field"):
        load_config(str(cfg_file))
    cfg_file.write_text("model: {base: kestrel-lite0-320-relu6-gflv1, head: {dgqp: true}}\n")
    cfg = load_config(str(cfg_file), ["optim.lr=0.5", "data.augment.mosaic=0"])
    assert cfg.model_config().head.dgqp and cfg.model_config().backbone.name == "efficientnet_lite0"
    assert cfg.optim.lr == 0.5 and cfg.data.augment.mosaic == 0.0
    with pytest.raises(ConfigError, match="not key=value"):
        load_config(str(cfg_file), ["optim.lr"])
    cfg_file.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(cfg_file))


def test_distillation_step_with_a_package_teacher(tmp_path):
    from detector.models import build_model
    from detector.models.config import ModelConfig
    from detector.models.export import export_package, package_meta

    teacher_cfg = from_dict(TrainConfig, {"model": TINY_MODEL}).model_config()
    assert isinstance(teacher_cfg, ModelConfig)
    teacher_model = build_model(teacher_cfg)
    teacher = export_package(teacher_model, package_meta(teacher_model, 64), tmp_path / "teacher.onnx")
    data = tiny_config(tmp_path)
    data["distill"] = {"teacher": str(teacher), "weight": 0.5}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    stats = trainer.train_step(*first_batch(trainer, 0))
    assert stats["ld"] > 0 and np.isfinite(stats["loss"])


def test_video_frames_are_sampled_evenly_and_need_a_teacher(tmp_path):
    from detector.errors import KestrelError
    from trainer.data.video import VideoFramesSource, sample_frame_indices

    assert sample_frame_indices(10, 5) == [1, 3, 5, 7, 9]
    assert sample_frame_indices(3, 10) == [0, 1, 2] and sample_frame_indices(0, 4) == []
    clip = need_shared("data", "videos", "highway-720p.mp4")
    source = VideoFramesSource(clip, 7, ("a", "b", "c"), max_side=320)
    assert len(source) == 7
    sample = source[3]
    assert sample.image.shape == (180, 320, 3) and not sample.labeled and len(sample.boxes) == 0
    with pytest.raises(KestrelError, match="video not found"):
        VideoFramesSource(tmp_path / "none.mp4", 3, ("a",))
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(KestrelError, match="junk.mp4"):
        VideoFramesSource(tmp_path / "junk.mp4", 3, ("a",))
    data = tiny_config(tmp_path)
    data["data"]["train"].append({"type": "video", "video": str(clip), "frames": 4})
    with pytest.raises(KestrelError, match="need a teacher"):
        Trainer(from_dict(TrainConfig, data), progress=False)


def test_keep_last_exports_the_final_weights_not_a_val_pick(tmp_path):
    from safetensors.torch import load_file

    data = tiny_config(tmp_path, epochs=2)
    images, labels = Path(data["data"]["train"][0]["images"]), Path(data["data"]["train"][0]["labels"])
    gt = write_coco_json(images, labels, tmp_path / "val.json")
    data["data"]["val"] = {"type": "coco", "annotations": str(gt), "images": str(images)}
    data["eval"] = {"every": 1, "keep": "last"}
    trainer = Trainer(from_dict(TrainConfig, data), progress=False)
    path = trainer.fit()
    assert path.exists() and len(trainer.history) == 2
    assert not (tmp_path / "runs" / "t" / "best.safetensors").exists()
    exported = load_file(str(tmp_path / "runs" / "t" / "model.safetensors"))
    for name, value in trainer.ema.ema.state_dict().items():
        assert torch.equal(exported[name], value), name


def test_a_teacher_with_other_strides_or_bins_is_refused(tmp_path):
    from detector.errors import KestrelError
    from trainer.teacher import Teacher

    teacher = Teacher(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), torch.device("cpu"), 64)
    teacher.bind((8, 16, 32), 0.0, 7, 80)  # NanoDet-Plus levels 8/16/32 of its 8/16/32/64
    out = teacher(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))
    assert out.shape == (2, 64 + 16 + 4, 80 + 32)
    with pytest.raises(KestrelError, match="reg_max differs"):
        teacher.bind((8, 16, 32), 0.0, 10, 80)
    with pytest.raises(KestrelError, match="centre offsets differ"):
        teacher.bind((8, 16, 32), 0.5, 7, 80)
    with pytest.raises(KestrelError, match="not all among"):
        teacher.bind((4, 8), 0.0, 7, 80)


def test_feature_imitation_is_scale_free_and_checks_the_teacher(tmp_path):
    from detector.errors import KestrelError
    from trainer.teacher import Teacher, feature_imitation_loss

    torch.manual_seed(0)
    t = [torch.randn(2, 8, 6, 6), torch.randn(2, 8, 3, 3)]
    assert feature_imitation_loss([x * 5 + 3 for x in t], t).item() == pytest.approx(0.0, abs=1e-5)
    assert feature_imitation_loss([-x for x in t], t).item() == pytest.approx(4.0, rel=0.05)  # anti-correlated
    assert 1.5 < feature_imitation_loss([torch.randn_like(x) for x in t], t).item() < 2.5  # unrelated
    teacher = Teacher(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), torch.device("cpu"), 64)
    teacher.bind((8, 16, 32), 0.0, 7, 80, feature_channels=96)
    out, feats = teacher.run(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))
    assert [f.shape for f in feats] == [(2, 96, 8, 8), (2, 96, 4, 4), (2, 96, 2, 2)]
    with pytest.raises(KestrelError, match="neck widths differ"):
        teacher.bind((8, 16, 32), 0.0, 7, 80, feature_channels=128)


def test_a_transplanted_head_reproduces_the_teacher_on_the_teachers_features(tmp_path):
    from detector.errors import KestrelError
    from detector.models import build_model
    from detector.models.config import HeadConfig, ModelConfig
    from trainer.teacher import Teacher
    from trainer.transplant import match_neck_scale, transplant_head

    teacher = Teacher(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), torch.device("cpu"), 64)
    teacher.bind((8, 16, 32), 0.0, 7, 80, feature_channels=96)
    head = HeadConfig(kernel_size=5, strides=(8, 16, 32), dgqp=True, norm=False)
    student = build_model(ModelConfig(name="s", head=head, input_size=64)).eval()
    assert transplant_head(student, teacher.model) == [8, 16, 32]
    images = torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8)
    out, feats = teacher.run(images)
    with torch.no_grad():
        raw = student.head(feats)
    assert torch.allclose(raw[..., 80:], out[..., 80:], atol=1e-5)  # the box distributions: the teacher's
    assert torch.allclose(raw[..., :80].sigmoid(), 0.95 * out[..., :80], atol=1e-4)  # DGQP starts at q = 0.95
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, own = student(x, with_features=True)
    factor = match_neck_scale(student, own, feats)
    with torch.no_grad():
        _, scaled = student(x, with_features=True)
    assert factor != 1.0
    assert all(torch.allclose(a * factor, b, rtol=1e-4, atol=1e-5) for a, b in zip(own, scaled, strict=True))
    with_bn = build_model(ModelConfig(name="s", head=HeadConfig(kernel_size=5, strides=(8, 16, 32)), input_size=64))
    with pytest.raises(KestrelError, match="another shape"):
        transplant_head(with_bn, teacher.model)


def test_a_transplanted_ghost_pan_and_head_reproduce_the_teacher_from_its_reduced_maps():
    from detector.models import build_model
    from detector.models.config import BackboneConfig, HeadConfig, ModelConfig, NeckConfig
    from trainer.teacher import Teacher
    from trainer.transplant import match_reduce_scale, transplant_head, transplant_neck

    teacher = Teacher(need_shared("weights", "nanodet", "nanodet-plus-m_416.param"), torch.device("cpu"), 64)
    teacher.bind((8, 16, 32), 0.0, 7, 80, feature_channels=96, feature_at="neck_input")
    student = build_model(ModelConfig(
        name="s", backbone=BackboneConfig(name="shufflenetv2", model_size="0.5x"), input_size=64,
        neck=NeckConfig(name="ghost_pan", out_channels=96, kernel_size=5, num_extra_level=0, norm=False),
        head=HeadConfig(kernel_size=5, strides=(8, 16, 32), dgqp=True, norm=False))).eval()  # fmt: skip
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in student.fpn.modules())
    transplant_neck(student, teacher.model)
    transplant_head(student, teacher.model)
    images = torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8)
    out, reduced = teacher.run(images)
    assert [r.shape[1:] for r in reduced] == [(96, 8, 8), (96, 4, 4), (96, 2, 2)]
    with torch.no_grad():
        raw = student.head(student.fpn.aggregate(reduced))
    assert torch.allclose(raw[..., 80:], out[..., 80:], atol=1e-4)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, own = student(x, with_features="neck_input")
    match_reduce_scale(student, own, reduced)
    with torch.no_grad():
        _, scaled = student(x, with_features="neck_input")
    for s, t in zip(scaled, reduced, strict=True):
        assert s.pow(2).mean().sqrt().item() == pytest.approx(t.pow(2).mean().sqrt().item(), rel=1e-3)


def test_closed_form_reduce_layers_recover_a_known_map_and_taken_parts_learn_slower():
    from detector.models import build_model
    from detector.models.config import BackboneConfig, HeadConfig, ModelConfig, NeckConfig
    from trainer.config import OptimConfig
    from trainer.optim import build_optimizer
    from trainer.transplant import fit_reduce_layers, transplanted_parameters

    student = build_model(ModelConfig(
        name="s", backbone=BackboneConfig(name="shufflenetv2", model_size="0.5x"), input_size=64,
        neck=NeckConfig(name="ghost_pan", out_channels=16, kernel_size=3, norm=False),
        head=HeadConfig(num_classes=3, feat_channels=16, kernel_size=3, norm=False))).eval()  # fmt: skip
    torch.manual_seed(0)
    maps, targets = [], []
    for layer in student.fpn.reduce_layers:
        cin = layer.conv.in_channels
        w, b = torch.randn(16, cin), torch.randn(16)
        x = torch.randn(4, cin, 6, 6)
        targets.append([torch.nn.functional.leaky_relu(torch.einsum("oc,bchw->bohw", w, x) + b[None, :, None, None],
                                                       0.1)])  # fmt: skip
        maps.append([x])
    r2 = fit_reduce_layers(student, maps, targets, ridge=1e-9)
    assert min(r2) > 0.9999
    for layer, x, t in zip(student.fpn.reduce_layers, maps, targets, strict=True):
        assert torch.allclose(layer(x[0]), t[0], atol=1e-3)
    # a 3x3 reduce layer: the same, with each position's neighbourhood (unfold order = conv weight order)
    wide = build_model(ModelConfig(
        name="s", backbone=BackboneConfig(name="shufflenetv2", model_size="0.5x"), input_size=64,
        neck=NeckConfig(name="ghost_pan", out_channels=16, kernel_size=3, norm=False, reduce_kernel=3),
        head=HeadConfig(num_classes=3, feat_channels=16, kernel_size=3, norm=False))).eval()  # fmt: skip
    truth = [torch.nn.Conv2d(layer.conv.in_channels, 16, 3, padding=1) for layer in wide.fpn.reduce_layers]
    maps = [[torch.randn(6, t.in_channels, 8, 8)] for t in truth]
    with torch.no_grad():
        targets = [[torch.nn.functional.leaky_relu(t(m[0]), 0.1)] for t, m in zip(truth, maps, strict=True)]
    assert min(fit_reduce_layers(wide, maps, targets, ridge=1e-9)) > 0.9999
    with torch.no_grad():
        assert all(torch.allclose(layer(m[0]), t[0], atol=1e-3)
                   for layer, m, t in zip(wide.fpn.reduce_layers, maps, targets, strict=True))  # fmt: skip
    taken = transplanted_parameters(student, head=True, neck=True)
    opt = build_optimizer(student, OptimConfig(), taken, 0.1)
    slow = [g for g in opt.param_groups if g["lr_scale"] == 0.1]
    assert {id(p) for g in slow for p in g["params"]} == {id(p) for p in taken}


def test_a_later_stage_keeps_the_taken_parts_slow_without_taking_them_again(tmp_path):
    """init_head with sparsity.init: the init's head stays as it is (no new transplant), still at the slow lr."""
    from safetensors.torch import load_file

    from detector.errors import KestrelError
    from trainer.transplant import transplanted_parameters

    first = Trainer(from_dict(TrainConfig, tiny_config(tmp_path, epochs=1)), progress=False)
    first.fit()
    data = tiny_config(tmp_path / "b", epochs=1)
    data["distill"] = {"init_head": True, "taken_lr_scale": 0.1}
    with pytest.raises(KestrelError, match="need a torch teacher"):  # a first stage would take the head
        Trainer(from_dict(TrainConfig, data), progress=False)
    data["sparsity"] = {"init": str(first.out / "model.safetensors")}
    later = Trainer(from_dict(TrainConfig, data), progress=False)
    init = load_file(str(first.out / "model.safetensors"))
    assert all(torch.equal(v, init[k]) for k, v in later.model.state_dict().items())
    taken = transplanted_parameters(later.model, head=True, neck=False)
    slow = {id(p) for g in later.optimizer.param_groups if g["lr_scale"] == 0.1 for p in g["params"]}
    assert taken and slow == {id(p) for p in taken}


def test_ddp_on_cpu_with_gloo_two_processes(tmp_path):
    cfg = tiny_config(tmp_path, epochs=1)
    cfg_file = tmp_path / "ddp.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "app.cli", "train", str(cfg_file), "--no-progress"]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "runs" / "t" / "t.onnx").exists()
    assert result.stdout.count("model package:") == 1  # only rank 0 exports


def test_sigterm_saves_like_ctrl_c_and_the_run_resumes(tmp_path):
    import signal
    import time

    cfg_file = tmp_path / "long.yaml"
    cfg_file.write_text(yaml.safe_dump(tiny_config(tmp_path, epochs=500)))
    cmd = [sys.executable, "-m", "app.cli", "train", str(cfg_file), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = tmp_path / "runs" / "t" / "last" / "trainer.json"
    try:
        deadline = time.monotonic() + 120
        while not last.exists() and time.monotonic() < deadline:  # a few epochs in
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: saved" in err
    state = yaml.safe_load(last.read_text())
    assert 0 < state["epoch"] < 500


def test_sigterm_to_the_whole_process_group_still_saves(tmp_path):
    """systemd, docker stop and a terminal signal every process of the group: the data worker must not die first
    and turn the save into a DataLoader error."""
    import os
    import signal
    import time

    config = tiny_config(tmp_path, epochs=500)
    config["data"]["workers"] = 1
    cfg_file = tmp_path / "long.yaml"
    cfg_file.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "app.cli", "train", str(cfg_file), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    last = tmp_path / "runs" / "t" / "last" / "trainer.json"
    try:
        deadline = time.monotonic() + 120
        while not last.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # mid-epoch, with the worker busy
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted: saved" in err, err[-2000:]
    assert "DataLoader worker" not in err


def test_dgqp_head_outputs_a_quality_weighted_score_and_learns():
    from detector.models import build_model
    from detector.models.config import PAPER_G5_LITE1_416

    cfg = dataclasses.replace(PAPER_G5_LITE1_416, backbone=dataclasses.replace(PAPER_G5_LITE1_416.backbone,
                                                                               pretrained=False), input_size=128)
    model = build_model(cfg)
    raw = model(torch.randn(1, 3, 128, 128))
    assert raw.shape == (1, 16 * 16 + 8 * 8 + 4 * 4, 80 + 4 * 11)
    score = raw[..., :80].sigmoid()
    assert (score > 0).all() and (score < 1).all()
    raw[..., :80].sum().backward()
    assert model.head.dgqp[0].reg_conf[0].weight.grad.abs().sum() > 0  # quality branch gets gradient


def test_fused_models_have_no_batch_norm():
    from detector.models import ARCHITECTURES, build_model

    model = build_model(dataclasses.replace(ARCHITECTURES["nanodet-plus-m"], fused=True))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_augment_preview_writes_a_grid(tmp_path, capsys):
    import cv2

    from app.cli import main

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(tiny_config(tmp_path)))
    out = tmp_path / "grid.png"
    assert main(["augment-preview", str(cfg_file), "-o", str(out), "--count", "6"]) == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (2 * 64, 4 * 64, 3)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_is_valid(path):
    cfg = load_config(str(path))
    assert cfg.model_config().name and cfg.data.train and cfg.optim.epochs > 0
