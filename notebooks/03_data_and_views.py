# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scd-lab/scd_lab/blob/main/notebooks/03_data_and_views.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/scd-lab/scd_lab/main?labpath=notebooks%2F03_data_and_views.ipynb)

# %% [markdown]
# # 03 · The data and the two views
#
# **What it teaches.** The embedded dataset and its knobs (clutter, camouflage, distinct
# textures), ImageNet-100 when it is present, the two augmented views with their warped masks,
# and the paper's motivation measured: random crops mix object and background, so a global
# embedding of a crop mixes both. Here: the distribution of the foreground share of crops at the
# default crop scales.
#
# **Prerequisites.** Notebook 01.
#
# | tier | time (measured) |
# |---|---|
# | CPU smoke (CI) | 6 s in the idle test suite on the project's 2-core machine (20 s at load average 2-6) |
# | CPU full | about 45 s with the dataset cached (5,000 images; generated once, about 9 s) |
# | one GPU | not needed |

# %% tags=["parameters"]
SMOKE = False  # CI runs this notebook with SMOKE = True (fewer images)
IN100 = None  # a folder made by `scd-lab data in100 --resize 112`, to look at ImageNet-100

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
import matplotlib.pyplot as plt
import torch

from scd_lab.lab import (build_datasets, gallery, knob_gallery, load_synthetic, resolve_spec,
                         TwoViewAugment, warp_masks)

N = 256 if SMOKE else 5000
train, test = load_synthetic("default", num_train=N, num_test=64)
print(f"{len(train)} train images of {train.images.shape[-1]} px, {train.num_classes} classes:",
      ", ".join(train.class_names))

# %% [markdown]
# ## The embedded dataset and its knobs
#
# Each class is a **shape and a texture, never a colour**; backgrounds use the same palette and
# texture families, with distractor shapes that belong to no class. Every image has a
# ground-truth mask of its object. The knobs (`scd_lab.data.SyntheticSpec`, config keys
# `data.clutter`, `data.camouflage`, `data.distinct_textures`, ...) change how hard it is.

# %%
gallery("default", n=16)
knob_gallery("default", n=6)
plt.show()

# %% [markdown]
# With `distinct_textures` the background uses only texture families that no class uses: the
# control condition in which the features can tell object from background.

# %%
gallery(resolve_spec("default", num_classes=5, distinct_textures=True), n=8)
plt.show()

# %% [markdown]
# ## ImageNet-100, when it is here
#
# Set `IN100` to the folder written by `scd-lab data in100 --imagenet-root ... --resize 112`
# (README, "ImageNet-100"); the kit never downloads it.

# %%
if IN100:
    in_train, _ = build_datasets("imagenet100", 112, root=IN100)
    print(len(in_train), "ImageNet-100 training images")
else:
    print("IN100 is not set: skipping ImageNet-100")

# %% [markdown]
# ## Two views and their masks
#
# `TwoViewAugment("byol", 32)` draws both views of a batch on the device: a random resized
# crop (scale from 0.08 by default; the `cpu` preset uses 0.2), a flip, colour jitter, grey,
# blur and solarisation, asymmetric between the views as in BYOL. `warp_masks` applies the
# same crop and flip to the masks.

# %%
augment = TwoViewAugment("byol", 32)
g = torch.Generator().manual_seed(0)
x1, x2, p1, p2 = augment(train.images[:6], g)
m1, m2 = warp_masks(train.masks[:6], p1, 32), warp_masks(train.masks[:6], p2, 32)
fig, axes = plt.subplots(5, 6, figsize=(8, 7))
rows = [("image", train.images[:6].permute(0, 2, 3, 1)), ("view 1", x1), ("mask 1", m1),
        ("view 2", x2), ("mask 2", m2)]
for r, (label, data) in enumerate(rows):
    for c in range(6):
        img = data[c]
        if img.ndim == 3 and img.shape[0] == 3:  # a normalised view: back to [0, 1] for display
            img = (img - img.min()) / (img.max() - img.min())
            img = img.permute(1, 2, 0)
        axes[r, c].imshow(img, cmap="gray" if img.ndim == 2 else None)
        axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(label)
plt.show()

# %% [markdown]
# ## Random crops mix object and background, measured
#
# The foreground share of a view is the mean of its warped mask. Over many crops: how often
# is a view mostly background, or does it miss the object altogether?

# %%
images, masks = train.images[:N], train.masks[:N]
shares = {}
for crop_min in (0.08, 0.2, 0.5):
    aug = TwoViewAugment("byol", 32, crop_min=crop_min)
    _, _, p1, p2 = aug(images, torch.Generator().manual_seed(1))
    shares[crop_min] = torch.cat([warp_masks(masks, p1, 32).mean((1, 2)),
                                  warp_masks(masks, p2, 32).mean((1, 2))])
whole = masks.float().mean((1, 2))
plt.figure(figsize=(6, 3.2))
for crop_min, s in shares.items():
    plt.hist(s.numpy(), bins=40, range=(0, 1), histtype="step", density=True,
             label=f"crops from {crop_min}")
plt.hist(whole.numpy(), bins=40, range=(0, 1), histtype="step", density=True, color="k",
         label="whole image")
plt.xlabel("foreground share of the view"), plt.ylabel("density"), plt.legend()
plt.show()
for crop_min, s in shares.items():
    print(f"crops from {crop_min}: mean share {s.mean():.2f} (whole images {whole.mean():.2f}); "
          f"{(s < 0.05).float().mean():.0%} of views hold almost no object, "
          f"{(s > 0.5).float().mean():.0%} are mostly object")

# %% [markdown]
# ## Summary and exercises
#
# * Measured on the 5,000 training images (`SMOKE = False`, seed 1): objects cover 25% of an
#   image on average and 32-33% of a view (objects sit nearer the centre than crops do). With
#   crops from 0.08 (BYOL's default), 7.6% of views hold almost no object (share below 5%)
#   and 17.9% are mostly object; from 0.2 (the `cpu` preset) 4.2% and 15.3%; from 0.5, 1.6%
#   and 7.4%. A global embedding of an object-free view is an embedding of background: the
#   paper's motivation for pooling fg and bg apart.
# * Exercise: how does the share of object-free views change with `crop_min`? Which setting
#   would you pick to help SCD, and what does the README's conditions study say happened?
# * Exercise: draw views of the `camouflage` split. What cue is left to tell the object?
