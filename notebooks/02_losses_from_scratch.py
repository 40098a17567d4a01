# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scd-lab/scd_lab/blob/main/notebooks/02_losses_from_scratch.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/scd-lab/scd_lab/main?labpath=notebooks%2F02_losses_from_scratch.ipynb)

# %% [markdown]
# # 02 · The losses from scratch
#
# **What it teaches.** Every loss of SCD written from scratch, then checked equal to the
# library: the Siamese set-up, InfoNCE with a queue (eq. 1), BYOL's loss and why eq. 2 equals
# eq. 3, weighted average pooling (eq. 4) and its gradient with respect to the map, the
# triplet loss (eq. 5) term by term, and the total objective. The equations and defaults are
# in `docs/method.md`.
#
# **Prerequisites.** Notebook 01. No training: everything runs on random tensors.
#
# **Graded exercises.** Five functions (3 points each) and two written answers (5 points).
# Write each function in its answer cell, then run the cell below it: `check("ID")` says
# whether the visible cases pass and, if not, which case fails and what looks wrong;
# `hint("ID")` gives a hint, and a more precise one when asked again. Your instructor grades
# with more cases than you see. Students get their copy from `scd-lab course release DIR`.
#
# | tier | time (measured) |
# |---|---|
# | CPU smoke (CI) and CPU full | under 20 s on the project's 2-core machine (no training) |
# | one GPU | not needed |

# %% tags=["parameters"]
SMOKE = False  # CI runs this notebook with SMOKE = True (same cells, no interactive widget)

# %%
# Setup (written by scripts/launch.py): installs the kit only where it is missing (Colab,
# Binder), then says whether it found a CPU or a GPU and picks the tier to match.
try:
    import scd_lab
except ImportError:
    import subprocess
    import sys
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "scd-lab[notebooks] @ git+https://github.com/scd-lab/scd_lab"])
from scd_lab.lab import setup

LAB = setup()  # LAB.tier: "cpu" or "gpu"; LAB.preset: the tier's preset

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from scd_lab.lab import check, hint

torch.manual_seed(0)

# %% [markdown]
# ## The Siamese set-up
#
# Two augmented views $x_1, x_2$ of one image go through two networks. The *online* network
# (encoder $E$, projector $H$, predictor $G$) is trained by gradient descent; the *target*
# network (primed: $E'$, $H'$) is an exponential moving average of the online one,
# $\xi \leftarrow m\,\xi + (1-m)\,\theta$, and receives no gradient (stop-gradient). The loss
# asks the online network's view of $x_1$ to agree with the target's view of $x_2$.
#
# ### Exercise 1: the EMA update
# Write `ema_update(target, online, m)`: update each target tensor **in place**.

# %% item="02-ema"
def ema_update(target: list, online: list, m: float) -> None:
    ### BEGIN SOLUTION
    for t, p in zip(target, online):
        t.mul_(m).add_(p, alpha=1.0 - m)
    ### END SOLUTION


# %%
check("02-ema")

# %% [markdown]
# ## InfoNCE with a queue (eq. 1, MoCo-v2)
#
# With $q$ the online embedding of $x_1$, $k$ the target's of $x_2$ (both L2-normalised) and a
# queue of $K$ negative keys $n_j$ from earlier batches,
# $$\mathcal{L}_{\text{NCE}} = -\log \frac{\exp(q\cdot k/\tau)}{\exp(q\cdot k/\tau) + \sum_{j=1}^{K} \exp(q\cdot n_j/\tau)}$$
# (`scd_lab.losses.info_nce_loss`). After the optimizer step the batch's keys enter the queue
# and the oldest leave (first in, first out).
#
# ### Exercise 2: InfoNCE with a FIFO queue
# Return the loss, the queue after pushing the normalised keys at `ptr` (wrapping around), and
# the new pointer.

# %% item="02-nce-queue"
def info_nce_with_queue(q, k, queue, ptr: int, tau: float):
    ### BEGIN SOLUTION
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], dim=1) / tau  # (B, 1+K)
    loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
    idx = (ptr + torch.arange(len(k))) % len(queue)
    queue = queue.clone()
    queue[idx] = k
    return loss, queue, (ptr + len(k)) % len(queue)
    ### END SOLUTION


# %%
check("02-nce-queue")

# %% [markdown]
# ## BYOL: why eq. 2 equals eq. 3
#
# BYOL regresses the normalised prediction $\bar p = p/\lVert p\rVert$ onto the normalised
# target $\bar z = z/\lVert z\rVert$:
# $$\lVert \bar p - \bar z\rVert^2 = \lVert\bar p\rVert^2 + \lVert\bar z\rVert^2 - 2\,\bar p\cdot\bar z = 2 - 2\cos(p, z),$$
# since both unit vectors have norm 1 (the library's `losses.byol_loss`).
# Checked numerically:

# %%
p, z = torch.randn(16, 32), torch.randn(16, 32)
eq2 = (p / p.norm(dim=1, keepdim=True) - z / z.norm(dim=1, keepdim=True)).pow(2).sum(1).mean()
eq3 = (2 - 2 * F.cosine_similarity(p, z)).mean()
assert torch.allclose(eq2, eq3, atol=1e-6)
print(f"eq. 2 = {eq2:.6f}, eq. 3 = {eq3:.6f}")

# %% [markdown]
# ## Weighted average pooling (eq. 4)
#
# SCD's saliency network gives a map $M_{fg}\in(0,1)^{H\times W}$ and $M_{bg} = 1 - M_{fg}$.
# Each pools the feature map $F$:
# $$h = \frac{\sum_{ij} w_{ij}\,F_{:,ij}}{\sum_{ij} w_{ij} + \epsilon}.$$
#
# ### Exercise 3: weighted average pooling

# %% item="02-wap"
def my_weighted_avg_pool(feature_map, weights, eps: float = 1e-6):
    ### BEGIN SOLUTION
    num = (feature_map * weights[:, None]).sum(dim=(2, 3))  # (B, C)
    return num / (weights.sum(dim=(1, 2))[:, None] + eps)
    ### END SOLUTION


# %%
check("02-wap")

# %% [markdown]
# ### The gradient of the pooled vector with respect to the map
#
# Differentiating the quotient, with $S = \sum w + \epsilon$:
# $$\frac{\partial h_c}{\partial w_{ij}} = \frac{F_{c,ij} - h_c}{S}.$$
# A location pulls $h$ towards its own features, in proportion to how far they are from the
# current average: the map learns where the features that the loss rewards sit. By hand and by
# autograd, through your pooling of exercise 3:

# %%
f = torch.randn(1, 3, 4, 4)
w = torch.rand(1, 4, 4, requires_grad=True)
h = my_weighted_avg_pool(f, w)
autograd = torch.stack([torch.autograd.grad(h[0, c], w, retain_graph=True)[0][0]
                        for c in range(3)])  # (C, H, W)
by_hand = (f[0] - h[0, :, None, None].detach()) / (w.sum().detach() + 1e-6)
assert torch.allclose(autograd, by_hand, atol=1e-6)
print("max |autograd - by hand| =", float((autograd - by_hand).abs().max()))

# %% [markdown]
# ## The triplet loss (eq. 5), term by term
#
# With $z^1$ online embeddings of view 1 and $z^2$ target embeddings of view 2,
# $$\mathcal{L}_d = \tfrac12\Big[\max\big(\cos(z^1_{fg}, z^2_{bg}) - \cos(z^1_{fg}, z^2_{fg}) + \alpha,\,0\big) + \max\big(\cos(z^1_{bg}, z^2_{fg}) - \cos(z^1_{bg}, z^2_{bg}),\,0\big)\Big]$$
# (`losses.semantic_discrimination_loss`). The foreground hinge is active until the two
# foregrounds agree better, **by the margin α**, than the online foreground agrees with the
# target background. The background hinge has no margin: the background only has to agree
# better with itself than with the foreground. With α = 0 the two terms are the same expression
# with fg and bg swapped: nothing in the loss says which side is the object, and the map's
# polarity is left to chance. That is why the margin sits on the foreground term.
#
# ### Exercise 4: the semantic discrimination loss

# %% item="02-ld"
def semantic_discrimination(z1_fg, z1_bg, z2_fg, z2_bg, alpha: float):
    ### BEGIN SOLUTION
    cos = F.cosine_similarity
    fg = F.relu(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha)
    bg = F.relu(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg))
    return 0.5 * (fg + bg).mean()
    ### END SOLUTION


# %%
check("02-ld")

# %% [markdown]
# ### Where the foreground hinge is active
#
# The foreground term depends on two cosines only. Over the plane of
# $(\cos(z^1_{fg}, z^2_{fg}), \cos(z^1_{fg}, z^2_{bg}))$ its contribution to the total loss
# $\mathcal{L} = \mathcal{L}_c + \lambda\,\mathcal{L}_d$ is $\tfrac{\lambda}{2}\max(c_{fb} - c_{ff} + \alpha, 0)$:
# zero below the line $c_{fb} = c_{ff} - \alpha$. Move α and λ with the sliders.

# %%
def plot_fg_term(alpha: float = 1.0, lam: float = 0.5):
    c = torch.linspace(-1, 1, 101)
    c_ff, c_fb = torch.meshgrid(c, c, indexing="xy")
    value = lam * 0.5 * F.relu(c_fb - c_ff + alpha)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(value, origin="lower", extent=(-1, 1, -1, 1), cmap="viridis", vmin=0, vmax=1.5)
    ax.plot([-1, 1], [-1 - alpha, 1 - alpha], "w--", lw=1)
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="cos(fg1, fg2)", ylabel="cos(fg1, bg2)",
           title=f"λ/2 · fg hinge, α = {alpha:.2f}")
    fig.colorbar(im, ax=ax)
    plt.show()


if SMOKE:
    plot_fg_term()
else:
    import ipywidgets as widgets
    widgets.interact(plot_fg_term, alpha=widgets.FloatSlider(value=1.0, min=0.0, max=1.4, step=0.1),
                     lam=widgets.FloatSlider(value=0.5, min=0.0, max=2.0, step=0.1))

# %% [markdown]
# ## LEWEL's alignment maps
#
# LEWEL reads its maps off the projector: each of the $d$ output channels of the projector,
# applied at every pixel, gives a map; normalised over channels at each pixel and soft-maxed
# over space with a scale $s$, $A = \operatorname{softmax}_{HW}(\bar Z / s)$.
#
# ### Exercise 5: the alignment maps

# %% item="02-align"
def alignment_maps(z_pix, scale: float = 1.0):
    ### BEGIN SOLUTION
    b, d, h, w = z_pix.shape
    logits = F.normalize(z_pix, dim=1) / scale
    return logits.flatten(2).softmax(-1).view(b, d, h, w)
    ### END SOLUTION


# %%
check("02-align")

# %% [markdown]
# ## The total objective
#
# SCD adds $\mathcal{L}_d$ to the base method's consistency loss:
# $\mathcal{L} = \mathcal{L}_c + \lambda\,\mathcal{L}_d$ with λ = 0.5 and α = 1 by default
# (`scd_lab.methods.SCD.forward`). The cell below builds one from the pieces above.

# %%
z = [torch.randn(8, 16) for _ in range(4)]
l_c = (2 - 2 * F.cosine_similarity(torch.randn(8, 16), torch.randn(8, 16))).mean()  # BYOL, eq. 3
total = l_c + 0.5 * semantic_discrimination(*z, 1.0)
print(f"L = {float(l_c):.3f} + 0.5 x {float(semantic_discrimination(*z, 1.0)):.3f} = {float(total):.3f}")

# %% [markdown]
# ## Summary and exercises
#
# * BYOL's normalised MSE is $2 - 2\cos$; InfoNCE is a cross-entropy over $1 + K$ logits.
# * Weighted pooling's gradient moves the map towards locations whose features differ from
#   the current average in the direction the loss rewards.
# * The margin α on the foreground term is the only thing in $\mathcal{L}_d$ that tells
#   foreground from background; with α = 0 the map's polarity is arbitrary.
#
# ### Written answer 1 (3 points)
# With $c_{ff} = 1$ (the foregrounds agree perfectly), for which $c_{fb}$ is the foreground
# hinge still active? What does that ask of the background embedding at α = 1?

# %% [markdown] item="02-margin-cff"
# YOUR ANSWER HERE

# %% [markdown]
# ### Written answer 2 (2 points)
# Switch the background term off (`method.bg_term=false`, paper Table 3). Which solutions of
# $\mathcal{L}_d$ become possible?

# %% [markdown] item="02-bg-term"
# YOUR ANSWER HERE
