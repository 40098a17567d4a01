"""Optimizers (SGD, LARS) and weight-decay exclusions (the learning-rate schedule is
``scd_lab.schedules.cosine_lr``)."""
from __future__ import annotations

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float, exclude_bias_norm: bool = True,
                 head_bn_decay: bool = False):
    """Two groups: weights with decay, and biases / norm parameters without (as the BYOL and
    LEWEL reference recipes do: LEWEL ``main.py:373-391``). The second group is also excluded
    from LARS adaptation. With ``head_bn_decay`` the heads' BN scales (``BatchNorm1d``
    weights; the trunk's norms are 2-d) join the first group, as in LEWEL's BN recipe, whose
    name test ``main.py:381`` catches the heads' BN (``mlp.1``) for the EMAN model only."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_norm = isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm,
                                          nn.LayerNorm))
            head_bn_scale = head_bn_decay and name == "weight" and \
                isinstance(module, nn.BatchNorm1d)
            if exclude_bias_norm and (name == "bias" or is_norm) and not head_bn_scale:
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay, "lars": True},
            {"params": no_decay, "weight_decay": 0.0, "lars": False}]


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017) on top of SGD with momentum, in one of two forms.

    ``form="lewel"`` (LEWEL ``utils/LARS.py:87-116``, after yaox12's BYOL-PyTorch): for a group
    with ``lars=True`` the trust ratio is eta ||w|| / (||g|| + wd ||w||); the step
    d = lr * trust * (g + wd w) goes into the momentum buffer (buf = d, then m buf + d) and
    w -= buf, so the learning rate is inside the buffer. ``form="joint"`` (the kit before issue
    22): trust eta ||w|| / ||g + wd w||, d = trust * (g + wd w), buf as above, w -= lr buf.
    A group with ``lars=False`` gets trust 1 in both. Where a denominator is 0 the trust is 1
    (the update is 0 or plain then; the authors' code would divide by zero).
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 0.001, form: str = "lewel"):
        if form not in ("lewel", "joint"):
            raise ValueError(f"LARS form must be 'lewel' or 'joint', got {form!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, lars=True, form=form))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient, a group at a time in ``_foreach``
        kernels (the class docstring gives both forms)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lewel, wd = group["form"] == "lewel", group["weight_decay"]
            d = [p.grad for p in params]
            if group["lars"]:
                w_norm = torch.stack(torch._foreach_norm(params))  # (n,)
                if lewel:
                    denom = torch.stack(torch._foreach_norm(d)) + wd * w_norm  # (n,)
                    ok = denom > 0
                else:
                    denom = torch.stack(torch._foreach_norm(
                        torch._foreach_add(d, params, alpha=wd) if wd else d))  # (n,)
                    ok = (w_norm > 0) & (denom > 0)
                trust = torch.where(ok, group["eta"] * w_norm / denom.clamp_min(1e-30),
                                    torch.ones_like(w_norm))  # (n,), on the device: no sync
            if wd:
                d = torch._foreach_add(d, params, alpha=wd)
            scale = group["lr"] if lewel else 1.0
            if group["lars"]:
                d = torch._foreach_mul(d, list((trust * scale).unbind()))
            elif lewel:
                d = torch._foreach_mul(d, scale)
            states = [self.state[p] for p in params]
            running = [(st["momentum_buffer"], di) for st, di in zip(states, d)
                       if "momentum_buffer" in st]
            if running:
                bufs, ds = zip(*running)
                torch._foreach_mul_(bufs, group["momentum"])
                torch._foreach_add_(bufs, ds)
            for st, di in zip(states, d):
                if "momentum_buffer" not in st:  # first step: buf = d
                    st["momentum_buffer"] = torch.clone(di).detach()
            torch._foreach_add_(params, [st["momentum_buffer"] for st in states],
                                alpha=-1.0 if lewel else -group["lr"])
        return loss


def build_optimizer(model: nn.Module, cfg, batch_size: int) -> tuple[torch.optim.Optimizer, float]:
    """Optimizer from an ``OptimConfig``; returns it and the peak learning rate."""
    lr = cfg.lr * batch_size / 256 if cfg.lr_scaling == "linear" else cfg.lr
    groups = param_groups(model, cfg.weight_decay, cfg.exclude_bias_norm, cfg.head_bn_decay)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=lr, momentum=cfg.momentum, eta=cfg.lars_eta,
                    form=cfg.lars_form), lr
    for g in groups:
        g.pop("lars")
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, foreach=True), lr
