"""Optimizers (SGD, LARS), weight-decay exclusions and the cosine learning-rate schedule."""
from __future__ import annotations

import math

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
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                if group["lars"]:
                    w_norm, g_norm = torch.norm(p), torch.norm(g)
                    trust = torch.where((w_norm > 0) & (g_norm > 0),
                                        group["eta"] * w_norm / g_norm, torch.ones_like(w_norm))
                    g = g.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.clone(g).detach()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(g)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def build_optimizer(model: nn.Module, cfg, batch_size: int) -> tuple[torch.optim.Optimizer, float]:
    """Optimizer from an ``OptimConfig``; returns it and the peak learning rate."""
    lr = cfg.lr * batch_size / 256 if cfg.lr_scaling == "linear" else cfg.lr
    groups = param_groups(model, cfg.weight_decay, cfg.exclude_bias_norm)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=lr, momentum=cfg.momentum, eta=cfg.lars_eta), lr
    for g in groups:
        g.pop("lars")
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum), lr


def cosine_lr(step: int, total_steps: int, peak: float, warmup_steps: int = 0) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to 0 at the end."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
