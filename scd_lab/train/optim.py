"""Optimizers (SGD, LARS) and weight-decay exclusions (the learning-rate schedule is
``scd_lab.schedules.cosine_lr``)."""
from __future__ import annotations

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float, exclude_bias_norm: bool = True):
    """Two groups: weights with decay, and biases / norm parameters without (as the BYOL and
    LEWEL reference recipes do). The second group is also excluded from LARS adaptation."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_norm = isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm,
                                          nn.LayerNorm))
            if exclude_bias_norm and (name == "bias" or is_norm):
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay, "lars": True},
            {"params": no_decay, "weight_decay": 0.0, "lars": False}]


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017) on top of SGD with momentum, as in BYOL/LEWEL recipes.

    For parameters of a group with ``lars=True``: the update is scaled by the trust ratio
    eta * ||w|| / ||g + wd w||.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, lars=True))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient, a group at a time in ``_foreach``
        kernels: d = g + wd w; d *= eta ||w|| / ||d|| (``lars`` groups, both norms > 0);
        buf = d (first step) or momentum buf + d; w -= lr buf."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            d = [p.grad for p in params]
            if group["weight_decay"]:
                d = torch._foreach_add(d, params, alpha=group["weight_decay"])
            if group["lars"]:
                w_norm = torch.stack(torch._foreach_norm(params))  # (n,)
                d_norm = torch.stack(torch._foreach_norm(d))  # (n,)
                trust = torch.where((w_norm > 0) & (d_norm > 0), group["eta"] * w_norm / d_norm,
                                    torch.ones_like(w_norm))  # (n,), on the device: no sync
                d = torch._foreach_mul(d, list(trust.unbind()))
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
                                alpha=-group["lr"])
        return loss


def build_optimizer(model: nn.Module, cfg, batch_size: int) -> tuple[torch.optim.Optimizer, float]:
    """Optimizer from an ``OptimConfig``; returns it and the peak learning rate."""
    lr = cfg.lr * batch_size / 256 if cfg.lr_scaling == "linear" else cfg.lr
    groups = param_groups(model, cfg.weight_decay, cfg.exclude_bias_norm)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=lr, momentum=cfg.momentum, eta=cfg.lars_eta), lr
    for g in groups:
        g.pop("lars")
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, foreach=True), lr

