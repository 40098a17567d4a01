"""The kit against the authors' code (docs/fidelity.md): heads, EMAN, LEWEL's two recipes,
initialisation, and SCD's target heads. Expected values are written by hand from the official
formulas (LayneH/LEWEL 4ee47eb, facebookresearch/moco f515ef4), never copied code."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from scd_lab.config import ConfigError, PRESETS, get_preset, resolve
from scd_lab.methods import build_method
from scd_lab.models import MLP, build_backbone

DOC = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
METHODS = ["byol", "moco", "scd-byol", "scd-moco", "lewel-byol", "lewel-moco"]


# ----------------------------------------------------------------- heads against the doc's table

def _heads_table() -> dict[tuple[str, str], str]:
    """{(family, head): layers} from fidelity.md's table of heads (rows ``| family | head |
    `layers` |`` between the markers)."""
    text = DOC.read_text()
    block = text.split("<!-- heads -->")[1].split("<!-- /heads -->")[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].startswith("`"):
            rows[(cells[0], cells[1])] = cells[2].strip("`")
    return rows


def _describe(mlp: nn.Module, sizes: dict[int, str]) -> str:
    """A head's layers in the table's notation: ``Lin(C>Hp) BN ReLU Lin(Hp>d)``, ``Lin+b`` for a
    Linear with a bias; widths by symbol (the first symbol of each size in ``sizes``)."""
    out = []
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            name = "Lin+b" if layer.bias is not None else "Lin"
            out.append(f"{name}({sizes[layer.in_features]}>{sizes[layer.out_features]})")
        elif isinstance(layer, nn.BatchNorm1d):
            out.append("BN")
        elif isinstance(layer, nn.ReLU):
            out.append("ReLU")
        else:  # pragma: no cover - a layer the notation does not know
            out.append(type(layer).__name__)
    return " ".join(out)


def _heads_of(method) -> dict[str, nn.Module]:
    base = getattr(method, "base", method)
    heads = {"projector": base.projector, "target projector": base.target_projector}
    if hasattr(base, "predictor"):
        heads["predictor"] = base.predictor
    if hasattr(method, "sem_projector"):
        heads["semantic projector"] = method.sem_projector
    if hasattr(method, "slot_projector"):
        heads["slot projector"] = method.slot_projector
        heads["slot predictor"] = method.slot_predictor
    return heads


@pytest.mark.parametrize("preset", list(PRESETS))
def test_heads_of_every_method_and_preset_match_the_table(preset, monkeypatch):
    for fn in ("kaiming_normal_", "kaiming_uniform_", "uniform_", "ones_", "zeros_",
               "constant_"):  # shapes only: no initialisation (slow on the meta device)
        monkeypatch.setattr(nn.init, fn, lambda t, *a, **k: t)
    table = _heads_table()
    assert len(table) == 11, table  # each family's heads once
    for name in METHODS:
        cfg = resolve(get_preset(preset))
        cfg.method.name = name
        cfg = resolve(cfg)
        with torch.device("meta"):  # shapes only: nothing allocated, nothing initialised
            method = build_method(cfg)
        m = cfg.method
        widths = {"C": method.encoder.out_channels, "d": m.proj_dim, "Hp": m.proj_hidden,
                  "Hq": m.pred_hidden, "Hs": m.lewel_slot_hidden or m.proj_hidden,
                  "Ht": m.lewel_slot_hidden or m.pred_hidden}
        sizes: dict[int, str] = {}  # a width two symbols share is written with the first
        for sym, size in widths.items():
            sizes.setdefault(size, sym)
        canon = lambda text: re.sub(r"\b(C|d|Hp|Hq|Hs|Ht)\b",  # noqa: E731
                                    lambda s: sizes[widths[s[0]]], text)
        family = "moco" if name.endswith("moco") else "byol"
        for head, module in _heads_of(method).items():
            assert _describe(module, sizes) == canon(table[(family, head)]), \
                (preset, name, head)


def test_old_heads_with_a_last_bias_stay_buildable(make_method):
    # method.head_bias = true: the kit before issue 22 (what its run folders' checkpoints hold)
    for name in ("scd-byol", "lewel-moco"):
        method = make_method(name, head_bias=True)
        last = [h[-1] for h in _heads_of(method).values() if isinstance(h[1], nn.BatchNorm1d)]
        assert last and all(layer.bias is not None for layer in last)
        assert all(h[-1].bias is None for h in _heads_of(make_method(name)).values()
                   if isinstance(h[1], nn.BatchNorm1d))


# ----------------------------------------------------------------- initialisation

def test_bn_heads_start_kaiming_normal_fan_out_and_moco_keeps_torchs_default():
    # LEWEL utils/init.py:31 (kaiming_normal_, fan_out, relu) on every 1x1 conv of its heads:
    # std = sqrt(2 / fan_out). Linear(256, 2048): fan_out 2048 -> 0.03125; (2048 -> 64): 0.177.
    torch.manual_seed(0)
    head = MLP(256, 2048, 64)
    assert head[0].weight.std().item() == pytest.approx(math.sqrt(2 / 2048), rel=0.02)
    assert head[3].weight.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.02)
    assert head[0].weight.mean().abs().item() < 0.002
    # MoCo builder.py:36-41: plain nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) weights, with biases.
    moco = MLP(256, 2048, 64, batch_norm=False)
    bound = 1 / math.sqrt(256)
    assert moco[0].weight.abs().max().item() <= bound
    assert moco[0].weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert moco[0].bias is not None and moco[2].bias is not None


def test_trunk_convs_start_kaiming_normal_fan_out():
    # LEWEL backbone/resnet.py:152-157: every Conv2d kaiming_normal_(fan_out, relu), BN 1 / 0.
    # resnet_tiny's 3x3 convs 64 -> 64: fan_out = 64 * 9 -> std sqrt(2 / 576) = 0.0589.
    torch.manual_seed(0)
    trunk = build_backbone("resnet_tiny", small_stem=True, widths=(64, 64, 64, 64))
    convs = [m for m in trunk.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
             and m.in_channels == 64]
    w = torch.cat([c.weight.flatten() for c in convs])
    assert w.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.03)
    stem = trunk.stem[0].weight  # 3 -> 64: fan_out 576 as well
    assert stem.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.1)
    bns = [m for m in trunk.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(b.weight, torch.ones_like(b.weight)) and
               torch.equal(b.bias, torch.zeros_like(b.bias)) for b in bns)


# ----------------------------------------------------------------- EMAN

def test_eman_target_in_eval_mode_and_buffers_averaged(make_method):
    # LEWEL models/lewel.py:161-178 (EMAN): every state entry xi <- m xi + (1 - m) theta, the
    # num_batches_tracked copied; main.py:310-315: the target network in eval mode.
    method = make_method("scd-byol", eman=True)
    method.train()
    pairs = method.momentum_pairs()
    assert all(o.training and not t.training for o, t in pairs)
    assert all(not mod.training for _, t in pairs for mod in t.modules())
    bn_on, bn_t = method.base.projector[1], method.base.target_projector[1]
    with torch.no_grad():
        bn_on.running_mean.fill_(2.0), bn_t.running_mean.fill_(1.0)
        bn_on.running_var.fill_(3.0), bn_t.running_var.fill_(5.0)
        bn_on.num_batches_tracked.fill_(7), bn_t.num_batches_tracked.fill_(1)
    method.momentum_update(0.75)
    # 0.75 * 1 + 0.25 * 2 = 1.25;  0.75 * 5 + 0.25 * 3 = 4.5;  7 copied
    assert torch.allclose(bn_t.running_mean, torch.full_like(bn_t.running_mean, 1.25))
    assert torch.allclose(bn_t.running_var, torch.full_like(bn_t.running_var, 4.5))
    assert int(bn_t.num_batches_tracked) == 7
    with torch.no_grad():
        method.momentum_update(0.75)  # and the weights as before
    # without EMAN (LEWELB, models/lewel.py:216-226): buffers untouched, the target trains
    plain = make_method("scd-byol")
    plain.train()
    assert all(t.training for _, t in plain.momentum_pairs())
    t_bn = plain.base.target_projector[1]
    before = t_bn.running_mean.clone()
    with torch.no_grad():
        plain.base.projector[1].running_mean.add_(1.0)
    plain.momentum_update(0.5)
    assert torch.equal(t_bn.running_mean, before)


# ----------------------------------------------------------------- LEWEL's two recipes

@pytest.mark.parametrize("preset,want", [
    # scripts/srun_lewelb_eman.sh:3-8 (LR BS WD BETA EP WARM_EP), --arch LEWELB_EMAN
    ("paper-lewel-byol-r50-eman", dict(lr=3.6, batch=1024, wd=1.5e-6, m0=0.98, epochs=200,
                                       eman=True, head_bn_decay=False, sync_bn=False)),
    # scripts/srun_lewelb.sh:5-10 and :48 (--norm SyncBN), --arch LEWELB
    ("paper-lewel-byol-r50-syncbn", dict(lr=7.2, batch=4096, wd=1e-6, m0=0.996, epochs=400,
                                         eman=False, head_bn_decay=True, sync_bn=True)),
])
def test_lewel_presets_carry_the_scripts_numbers(preset, want):
    cfg = resolve(get_preset(preset))
    o, m, t = cfg.optim, cfg.method, cfg.train
    got = dict(lr=o.lr, batch=t.batch_size, wd=o.weight_decay, m0=m.base_momentum,
               epochs=t.epochs, eman=m.eman, head_bn_decay=o.head_bn_decay, sync_bn=t.sync_bn)
    assert got == want
    # shared by both: LARS of utils/LARS.py at the given lr, 10 warm-up epochs, per-epoch cosine
    # (main.py:188, 264-265), h = 4, s = 1, w = 0.5, symmetric, m -> 1 on a cosine, crop 0.2
    assert (o.optimizer, o.lars_form, o.lr_scaling, o.warmup_epochs, o.lr_per) == \
        ("lars", "lewel", "none", 10, "epoch")
    assert (m.name, m.lewel_heads, m.lewel_scale, m.lewel_global_weight, m.symmetric,
            m.momentum_schedule, m.head_bias) == ("lewel-byol", 4, 1.0, 0.5, True, "cosine",
                                                  False)
    assert (cfg.data.crop_scale_min, cfg.data.crop_size, cfg.backbone.arch) == \
        (0.2, 224, "resnet50")


def test_the_old_lewel_preset_names_its_successors():
    with pytest.raises(ConfigError) as err:
        get_preset("paper-lewel-byol-r50")
    msg = str(err.value)
    assert "\n" not in msg and "paper-lewel-byol-r50-eman" in msg and \
        "paper-lewel-byol-r50-syncbn" in msg


# ----------------------------------------------------------------- SCD's target heads

@pytest.mark.parametrize("name", ["scd-byol", "scd-moco"])
def test_scd_target_runs_the_semantic_projector_once(make_method, views, name):
    method = make_method(name)
    calls = []
    first = method.target_sem_projector[0]
    hook = first.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    try:
        method(*views)
    finally:
        hook.remove()
    assert calls == [2 * views[0].shape[0]]  # one call on [h_fg; h_bg], not two of B rows
    # ... and it gives what two calls give (BN per half, BYOL: no shuffle)
    if name == "scd-byol":
        c = method.base.out_channels
        h_fg, h_bg = torch.randn(4, c), torch.randn(4, c)
        tgt = method.target_sem_projector
        z_fg, z_bg = method._target_heads(h_fg, h_bg)
        with torch.no_grad():
            torch.testing.assert_close(z_fg, tgt(h_fg), rtol=0, atol=1e-5)
            torch.testing.assert_close(z_bg, tgt(h_bg), rtol=0, atol=1e-5)


# ----------------------------------------------------------------- schedules and precision

def test_moco_preset_sets_the_cosine_per_epoch_without_warm_up():
    # MoCo main_moco.py:372 (once per epoch) and :488-497 (lr * 0.5 (1 + cos(pi e / E))); its
    # SGD decays every parameter (main_moco.py:291-296)
    o = get_preset("paper-scd-moco-r50").optim
    assert (o.lr_per, o.warmup_epochs, o.optimizer, o.lr, o.weight_decay,
            o.exclude_bias_norm) == ("epoch", 0.0, "sgd", 0.06, 1e-4, False)
    assert get_preset("cpu").optim.lr_per == "step"  # the CPU tier: a few epochs, per step


def test_trainer_holds_the_cosine_for_an_epoch_when_asked(tiny_cfg):
    from types import SimpleNamespace

    from scd_lab.train.trainer import Trainer
    seen = []
    fake = SimpleNamespace(total_steps=40, peak_lr=2.0, warmup_steps=10, lr_every=10, lr=None,
                           optimizer=SimpleNamespace(param_groups=[{}], step=lambda: None))
    for k in (19, 20, 29):
        Trainer.optimizer_step(fake, k)
        seen.append(fake.lr)
    assert seen == pytest.approx([2.0, 1.5, 1.5])  # LEWEL's per-epoch values (test_schedules)


def test_mixed_precision_is_bf16_without_loss_scaling():
    # LEWEL trains with --amp: fp16 autocast and a GradScaler (main.py:348-356); the kit's
    # "auto" precision is bf16 autocast on CUDA, which needs no loss scaling (a deviation).
    from types import SimpleNamespace

    from scd_lab.train.trainer import Trainer
    fake = SimpleNamespace(train_cfg=SimpleNamespace(precision="bf16"),
                           device=torch.device("cpu"))
    ctx = Trainer.autocast(fake)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    fake.train_cfg.precision = "auto"  # on the CPU: fp32
    assert not isinstance(Trainer.autocast(fake), torch.autocast)
