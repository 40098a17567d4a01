# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scd-lab/scd_lab/blob/main/notebooks/05_saliency_explorer.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/scd-lab/scd_lab/main?labpath=notebooks%2F05_saliency_explorer.ipynb)

# %% [markdown]
# # 05 · Saliency explorer: scrub through training, run beside run
#
# **What it teaches.** How the saliency maps of SCD (`scd_fg`), LEWEL (`lewel_maxvar`) and the
# plain channel-sum map of any backbone (`channel_sum`) change while a network trains, on the
# same probe images, and how to read them against the numbers: the AUROC and best IoU that the
# saliency monitor measured on held-out masks at each snapshot. You will see maps that find the
# object, maps that collapse to a constant, and maps whose polarity is *inverted* (AUROC < 0.5:
# `1 − map` marks the object better; the explorer marks them "▼ inverted").
#
# **Prerequisites.** Notebook 01 (what a run directory holds). Runs to look at: the reference
# runs shipped under `scd_lab/shipped/reference_runs/`, your own (`scd-lab train`, `scd-lab
# demo`), or, with `SMOKE = True`, two tiny runs trained here. Any run directories with snapshots work; runs shown
# together must share their probe images (same dataset, `data.seed` and `train.probe_size`).
#
# **Controls.** ▶ plays the epochs; the slider picks one; the image picker, the opacity and the
# mask outline apply to every run; each run has its own map picker and a *flip polarity*
# checkbox. **Refresh** re-reads the snapshots of a run that is still training.
#
# | runs | what you need | time to first picture | what to expect |
# |---|---|---|---|
# | CPU smoke: `SMOKE = True` | nothing | 11 s in the idle test suite, 28 s under load (2 tiny runs, CPU) | noisy maps; AUROC near 0.5 |
# | CPU full: reference runs (`RUNS = None`) | `scd_lab/shipped/reference_runs/` | about 7 s | the demo's runs: SCD's `scd_fg` ends at AUROC 0.58, no better than the channel-sum map of the same network (0.58); LEWEL's `lewel_maxvar` at 0.52, inverted at epoch 2 |
# | your `scd-lab demo` (CPU tier) | about 10 min of training on an idle 2-core machine | seconds once trained | the same figures as the reference runs (same seed) |
# | GPU tier runs | a GPU run directory | seconds | not measured for this notebook; the README's 40-epoch H100 runs ended at AUROC 0.56-0.61 |
#
# The explorer reads each snapshot once and caches every overlay it has drawn: moving a slider
# back to an epoch you have seen costs under a millisecond.

# %% tags=["parameters"]
SMOKE = False  # True: train two tiny runs here (about a minute) instead of the reference runs
RUNS = None    # None: the shipped reference runs (or the smoke runs); or {"label": "path/to/run"}

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
from scd_lab.lab import epoch_grid, Explorer, reference_runs, saliency_grid, smoke_runs

if RUNS is None:
    # tiny runs go to runs_root()/nb05-smoke-<method>; a finished one is reused
    RUNS = smoke_runs(("scd-byol", "lewel-byol")) if SMOKE else reference_runs("demo")
if not RUNS:
    raise FileNotFoundError("no runs: scd_lab/shipped/reference_runs/ is empty; set SMOKE = True, "
                            "or set RUNS to run directories made with `scd-lab demo`")
for label, path in RUNS.items():
    print(f"{label:>12}: {path}")

# %% [markdown]
# ## The explorer
#
# Start with the last epoch: which maps find the object (cyan outline)? Then press ▶ and watch
# when each map starts to. The small plot under each run is its AUROC (blue) and best IoU
# (green) over training; the red line is the epoch shown.

# %%
explorer = Explorer(RUNS, images=8)
explorer

# %% [markdown]
# ## A static grid for a report
#
# The same maps at the last epoch, as a figure (`save_figure(fig, "path/stem")` writes a PNG
# and a PDF). Each row names the run, the map and its AUROC.

# %%
fig = saliency_grid(RUNS, images=6)

# %%
fig = epoch_grid(RUNS, image=explorer.state.image, epochs=5)

# %% [markdown]
# ## Beside the maps: the feature space, and what the objective itself looks at
#
# Under each run the explorer shows its **feature space** at the shown epoch: a t-SNE of the
# probe images' embeddings (GAP of the online encoder, kept in every snapshot) coloured by
# class, the chosen image ringed and its nearest neighbours below. Do the classes separate
# as the maps improve, or before? (Runs made before snapshots kept embeddings, like the
# shipped demo runs, say so instead; the shipped `feat-*` runs, BYOL, SCD-BYOL and LEWEL-BYOL
# on 1,280 images, have them.) `explorer.export_html("explorer.html")` writes all of it as
# one HTML file that needs no kernel (`scd-lab explore --html` from a terminal).

# %%
FEAT = {} if SMOKE else reference_runs("feat")
if FEAT:
    display(Explorer(FEAT, images=8))  # noqa: F821 - IPython's display

# %% [markdown]
# A self-supervised model has no class logit to explain, but its objective is a number:
# Grad-CAM of **minus L_c** (for BYOL, the cosine of the two views' embeddings) and of
# **minus SCD's L_d**, for a view pair (the image, one augmented view), computed by the
# method's own losses. Set them beside SCD's learned map and the class Grad-CAM of a linear
# probe, each with its AUROC against the masks. This needs a trained method, so it uses a
# run with a checkpoint: the demo's SCD-BYOL when you ran `scd-lab demo`, else a tiny run.

# %%
import matplotlib.pyplot as plt
from scd_lab.lab import auroc, load_run, minmax_normalize, runs_root, saliency_maps

demo = runs_root() / "demo" / "scd-byol"
ATTR = RUNS["scd-byol"] if SMOKE else (
    demo if (demo / "summary.json").is_file() else smoke_runs(("scd-byol",))["scd-byol"])
arun = load_run(ATTR)
imgs, masks = arun.test.images[:6], arun.test.masks[:6]
amaps = saliency_maps(arun, imgs, objective=True)
names = ["scd_fg", "gradcam", "objective_consistency", "objective_discrimination"]
fig, axes = plt.subplots(len(names) + 1, 6, figsize=(9, 1.6 * (len(names) + 1)))
for j in range(6):
    axes[0, j].imshow(imgs[j].permute(1, 2, 0))
    for i, name in enumerate(names, 1):
        axes[i, j].imshow(minmax_normalize(amaps[name][j:j + 1])[0], cmap="magma", vmin=0, vmax=1)
for i, name in enumerate(names, 1):  # AUROC of the six maps, each min-max normalised
    score = auroc(minmax_normalize(amaps[name]), masks)
    axes[i, 0].set_ylabel(f"{name}\nAUROC {score:.2f}", fontsize=7)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
plt.tight_layout()

# %% [markdown]
# ## Where the features carry the object
#
# The reference runs of the conditions study (distinct textures: background regions use
# texture families no class uses) are shown together with the **supervised ceiling**: SCD's
# saliency-net architecture trained *with* the masks on one run's frozen features. It is not
# a self-supervised map: it shows what a map of SCD's form could find on those features.

# %%
DISTINCT = {} if SMOKE else reference_runs("distinct")
if DISTINCT:
    study = Explorer(DISTINCT, images=8)
    display(study)  # noqa: F821 - IPython's display

# %% [markdown]
# The same question end to end on one GPU (an H200): SCD-BYOL, BYOL and the supervised
# reference with ResNet-18 (small stem) at 64 px, 6 epochs on the distinct-texture split
# (`docs/findings.md`, section 4). Watch SCD's map stay where it started while the supervised
# trunk's channel-sum map moves onto the object.

# %%
GPU = {} if SMOKE else reference_runs("gpu64")
if GPU:
    display(Explorer(GPU, images=8))  # noqa: F821 - IPython's display

# %% [markdown]
# ## Summary: the numbers behind the pictures

# %%
for label, run in explorer.model.runs.items():
    name = run.default_map
    curve = run.saliency_curve(name, "auroc")
    first, last = (curve[0][1], curve[-1][1]) if curve else (float("nan"), float("nan"))
    flag = "  ▼ inverted" if last < 0.5 else ""
    print(f"{label:>12} {name:>13}: AUROC {first:.3f} at epoch {run.epochs[0]:g} -> "
          f"{last:.3f} at epoch {run.epochs[-1]:g}{flag}")

# %% [markdown]
# ## Exercises
#
# 1. Pick the `channel_sum` map for every run. Is SCD's own map (`scd_fg`) better than the
#    channel sum of the *same* backbone at the last epoch? At epoch 0?
# 2. Find an image where a map marked "▼ inverted" looks right after *flip polarity*. What does
#    an AUROC of 0.35 mean for `1 − map`?
# 3. Find the epoch where `scd_fg` first beats 0.5 AUROC. Does the picture change at the same
#    time as the number?
# 4. Start a run in a terminal (`scd-lab train --method scd-byol --out runs/live`), open it here
#    with `Explorer({"live": "runs/live"})`, and press Refresh after each epoch.
# 5. Export the runs to TensorBoard (`scd-lab export-tb RUN... --out runs/tb`) and scrub the
#    Images tab with its step slider.

# %% [markdown]
# ## Graded exercises
#
# Two numbers read from the reference runs (2 points each) and one written answer (2 points), on the demo's runs (`SMOKE = False`). Run each check cell after your answer: `check("ID")` says whether it holds and,
# if not, what looks wrong; `hint("ID")` gives a hint, a more precise one when asked again.
# Numbers are typed in their answer cell (the grader runs that cell alone).

# %%
from scd_lab.lab import check, hint  # noqa: E402 - the graded section's own import

# %% [markdown]
# ### Number 1 (2 points)
# In the summary cell, the AUROC of the scd-byol run's `scd_fg` map at the last epoch. Set
# `SCD_END_AUROC`, to three decimals.

# %% item="05-scd-end"
### BEGIN SOLUTION
SCD_END_AUROC = 0.579
### END SOLUTION

# %%
check("05-scd-end")

# %% [markdown]
# ### Number 2 (2 points)
# The same map's AUROC at the first epoch (step 0, the untrained network). Set
# `SCD_INIT_AUROC`.

# %% item="05-scd-init"
### BEGIN SOLUTION
SCD_INIT_AUROC = 0.464
### END SOLUTION

# %%
check("05-scd-init")

# %% [markdown]
# ### Written answer (2 points)
# A map scores AUROC 0.35. What does that say about what it marks, and what does 1 − map
# score? When does *flip polarity* make such a map look right?

# %% [markdown] item="05-inverted"
# YOUR ANSWER HERE
