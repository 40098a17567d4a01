# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scd-lab/scd_lab/blob/main/notebooks/00_primer.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/scd-lab/scd_lab/main?labpath=notebooks%2F00_primer.ipynb)

# %% [markdown]
# # 00 · Primer: the ideas before notebook 02
#
# **What it teaches.** What a student needs before the losses of notebook 02: contrastive and
# non-contrastive self-supervised learning, collapse and how to see it, the stop-gradient and
# the EMA target, and what a saliency map is and how the kit scores it (AUROC). The equations
# are in `docs/method.md`.
#
# **Prerequisites.** PyTorch tensors and autograd. No training: everything runs on random
# tensors in seconds.
#
# **Graded exercises.** Four functions, two numbers and two written answers (17 points).
# Write each answer in its answer cell, then run the check cell below it: `check("ID")` says
# whether the visible cases pass and, if not, which case fails and what looks wrong;
# `hint("ID")` gives a hint, and a more precise one when asked again. Your instructor grades
# with more cases than you see.
#
# | tier | time (measured) |
# |---|---|
# | CPU smoke (CI) | 20 s in the suite (2026-12-06, load average 8-9) |
# | CPU full | seconds (no training) |
# | one GPU | not needed |

# %% tags=["parameters"]
SMOKE = False  # CI runs this notebook with SMOKE = True (the same cells)

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

import torch
import torch.nn.functional as F

from scd_lab.lab import check, hint

torch.manual_seed(0)

# %% [markdown]
# ## Two views of one image
#
# Self-supervised learning makes its own labels: two random augmentations ("views") of one
# image should get similar embeddings, views of different images need not. How similar is
# measured by the **cosine similarity** of the embeddings, their angle, whatever their length.
#
# ### Exercise 1: the matrix of cosine similarities (2 points)
# `cosine_matrix(a, b)` takes `a` of shape (N, D) and `b` of shape (M, D) and returns the
# (N, M) matrix of cosines between every row of `a` and every row of `b`.

# %% item="00-cosine"
def cosine_matrix(a, b):
    ### BEGIN SOLUTION
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).t()
    ### END SOLUTION


# %%
check("00-cosine")

# %% [markdown]
# ## Contrastive and non-contrastive
#
# A **contrastive** method (SimCLR, MoCo: InfoNCE, notebook 02) asks each view to be closer to
# its positive (the other view of the same image) than to *negatives*, the embeddings of other
# images. A **non-contrastive** method (BYOL, SimSiam) has no negatives: it only pulls the two
# views of one image together.
#
# Pulling views together has a trivial solution: give every image the same embedding. That is
# **collapse**. A collapsed network's embeddings do not vary across the batch, so their spread
# over the batch is a monitor of collapse.
#
# ### Exercise 2: the collapse monitor (2 points)
# `embedding_std(z)` takes a batch `z` of shape (N, D) and returns one number: the standard
# deviation over the batch of each dimension of the L2-normalised embeddings, averaged over the
# D dimensions.

# %% item="00-collapse-std"
def embedding_std(z):
    ### BEGIN SOLUTION
    return F.normalize(z, dim=1).std(dim=0).mean()
    ### END SOLUTION


# %%
check("00-collapse-std")

# %% [markdown]
# ### Number 1: the monitor away from collapse (1 point)
# Run your `embedding_std` on the 1,000 random 256-dimensional vectors below and set
# `RANDOM_STD` to the number it prints, to three decimals (type the number: the grader runs the
# answer cell alone). Compare it with $1/\sqrt{256}$.

# %%
random_z = torch.randn(1000, 256, generator=torch.Generator().manual_seed(0))
print(f"embedding_std = {float(embedding_std(random_z)):.4f};  1/sqrt(256) = {1 / math.sqrt(256):.4f}")

# %% item="00-random-std"
### BEGIN SOLUTION
RANDOM_STD = 0.0625
### END SOLUTION

# %%
check("00-random-std")

# %% [markdown]
# ## The stop-gradient and the EMA target
#
# BYOL has two networks. The *online* network (encoder, projector and a predictor) is trained
# by gradient descent. The *target* network gives the embedding to regress onto, and it is
# treated as a constant: a **stop-gradient** (`detach` in PyTorch) keeps the loss's gradient
# from reaching it. Its weights $\xi$ follow the online weights $\theta$ as an exponential
# moving average (EMA), $\xi \leftarrow m\,\xi + (1-m)\,\theta$, with $m$ close to 1.
#
# ### Exercise 3: BYOL's loss with a stop-gradient (3 points)
# `byol_loss_sg(p, z)` takes the online prediction `p` and the target embedding `z`, both
# (N, D), and returns the mean over the batch of $2 - 2\cos(p, z)$, with no gradient reaching
# `z`.

# %% item="00-byol-sg"
def byol_loss_sg(p, z):
    ### BEGIN SOLUTION
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()
    ### END SOLUTION


# %%
check("00-byol-sg")

# %% [markdown]
# ### Number 2: how slowly the target forgets (1 point)
# After $n$ EMA updates, the target keeps the share $m^n$ of its starting weights. With
# $m = 0.99$, after how many updates does it first keep less than half? Set `HALF_LIFE`.

# %% item="00-ema-halflife"
### BEGIN SOLUTION
HALF_LIFE = 69
### END SOLUTION

# %%
check("00-ema-halflife")

# %% [markdown]
# ### Written answer 1 (3 points)
# What stops a contrastive method from collapsing? BYOL's loss is minimal when every embedding
# is the same: what keeps it from collapsing in practice?

# %% [markdown] item="00-contrastive"
# YOUR ANSWER HERE

# %% [markdown]
# ## What a saliency map is, and how it is scored
#
# A **saliency map** gives each position of an image a score: how much it belongs to the
# object. SCD's saliency network predicts one from the feature map; LEWEL reads one off its
# projector; the *channel sum* of a feature map is a map for free. The kit's data comes with
# the object's mask, so a map can be scored against it.
#
# The score is the **AUROC** of the map as a classifier of pixels: the chance that a random
# object pixel scores higher than a random background pixel, a tie counting half. 0.5 is
# chance; 1 is a perfect map; below 0.5 the map marks the background (it is *inverted*).
#
# ### Exercise 4: the AUROC of a saliency map (3 points)
# `pixel_auroc(saliency, mask)` takes a map and a {0, 1} mask of the same shape (H, W) and
# returns the AUROC as a float. Write it from the definition (pairs of pixels), not with a
# library's AUROC.

# %% item="00-pixel-auroc"
def pixel_auroc(saliency, mask):
    ### BEGIN SOLUTION
    s, y = saliency.flatten().double(), mask.flatten().bool()
    diff = s[y][:, None] - s[~y][None, :]  # (object pixels, background pixels)
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())
    ### END SOLUTION


# %%
check("00-pixel-auroc")

# %% [markdown]
# The kit pools the pixels of many images into one AUROC (`auroc`), and also scores each
# image alone (`per_image_aurocs`). The two can disagree.
#
# ### Written answer 2 (2 points)
# A map scores a pooled AUROC of 0.5 over 500 images, but each image's own AUROC, taken as
# max(AUROC, 1 − AUROC), averages 0.9. What is the map doing?

# %% [markdown] item="00-saliency-score"
# YOUR ANSWER HERE

# %% [markdown]
# ## Summary
#
# * Contrastive losses punish collapse through their negatives; BYOL avoids it through its
#   asymmetry (predictor, stop-gradient, EMA target), not through its loss.
# * The spread of normalised embeddings over a batch is 0 at collapse, about $1/\sqrt{D}$ for
#   random directions.
# * A saliency map is scored by AUROC against the object's mask: 0.5 is chance, below 0.5 the
#   map is inverted, and pooled and per-image figures answer different questions.
# * Next: notebook 01 (a run end to end) and notebook 02 (SCD's losses from scratch).
