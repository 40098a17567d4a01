# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/scd-lab/scd_lab/blob/main/notebooks/01_quickstart.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/scd-lab/scd_lab/main?labpath=notebooks%2F01_quickstart.ipynb)

# %% [markdown]
# # 01 · Quickstart: build, train, watch the maps, read the numbers
#
# **What it teaches.** The kit end to end on its embedded dataset: a method built by hand from
# modules, a run trained from a config (or loaded if it is already on disk), what the run
# directory holds, and SCD's saliency maps across epochs beside the ground-truth masks.
#
# **Prerequisites.** `pip install -e ".[notebooks]"`; nothing else (the dataset is generated
# on first use and cached).
#
# | tier | what runs | time |
# |---|---|---|
# | CPU smoke (`SMOKE = True`, CI) | 20 hand-built steps, a 2-epoch run on 512 images | measured on the project's 2-core machine: 29 s in the idle test suite, 109 s at load average 9-10 |
# | CPU full (`SMOKE = False`) | the `cpu` preset, 4 epochs of SCD-BYOL on 5,000 images | estimated from the demo's measured rate (about 75 s an epoch with its monitors): about 5 min |
# | one GPU | the same, with `train.device=cuda` | not measured in this release |
#
# The numbers to expect: kNN top-1 rises above its step-0 value (about 0.18 for 10 classes),
# and SCD's map stays near the channel-sum map of the same network (AUROC 0.55-0.6): the
# README's section "Does SCD's map find the object?" says why.

# %% tags=["parameters"]
SMOKE = False  # CI runs this notebook with SMOKE = True (a few steps on a small split)

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

from scd_lab.lab import (apply_overrides, build_backbone, BYOL, ensure_run, format_summary,
                         get_preset, load_run, load_synthetic, plot_metrics,
                         plot_saliency_evolution, RunDir, runs_root, SCD, TrainConfig, Trainer,
                         TwoViewAugment)

# %% [markdown]
# ## A method by hand
#
# SCD is a plug-in over a base method: `SCD(BYOL(trunk), alpha, lam)`. The trainer is handed the
# method, the images and the augmentation; it knows nothing else.

# %%
train, test = load_synthetic("default", **({"num_train": 512, "num_test": 128} if SMOKE else {}))
scd = SCD(BYOL(build_backbone("resnet_tiny", small_stem=True), proj_hidden=1024,
               pred_hidden=1024, proj_dim=256), alpha=1.0, lam=0.5)
augment = TwoViewAugment("byol", 32)
trainer = Trainer(scd, train, augment, TrainConfig(max_steps=20, batch_size=64, progress=False))
summary = trainer.fit()
maps = scd.eval().saliency_maps(augment.eval_input(test.images[:8]))
print({k: tuple(v.shape) for k, v in maps.items()}, "- loss", trainer.history[-2]["loss"])

# %% [markdown]
# ## A run from a config, trained once
#
# `ensure_run` trains the config into a folder under `runs/` at the repository root, resumes it
# if it was stopped, and reuses it if it finished: rerunning this cell never trains twice.

# %%
overrides = ["method.name=scd-byol", "train.epochs=4"]
if SMOKE:
    overrides += ["data.num_train=512", "data.num_test=128", "train.epochs=2",
                  "train.knn_bank_size=512", "train.progress=false"]
cfg = apply_overrides(get_preset("cpu"), overrides)
RUN = runs_root() / ("nb01-scd-byol" + ("-smoke" if SMOKE else ""))
print(format_summary(ensure_run(cfg, RUN)))

# %% [markdown]
# ## What was measured
#
# kNN top-1 on held-out images (bank and queries never overlap) and the AUROC of SCD's map
# $M_{fg}$ against the masks, at step 0 and after every epoch. AUROC 0.5 is chance; the untrained
# channel-sum map and the centre prior are the baselines to beat.
#
# With `SMOKE = True` the run is 16 steps: it checks that the code runs, and its numbers mean
# nothing (its kNN can fall below the step-0 value). The summary above says so in a NOTE line,
# as it does for any run of fewer than 100 steps.

# %%
plot_metrics({"scd-byol": RUN}, keys=("knn_top1",), kind="knn")
plot_metrics({"scd-byol": RUN}, keys=("scd_fg/auroc", "channel_sum/auroc", "scd_fg/mean"),
             kind="saliency")
plt.show()

# %% [markdown]
# ## The maps across epochs, and the trained method
#
# Every map is min-max normalised per image before it is shown. A map that is the same for
# every image, whatever the object, is a positional shortcut: compare the columns.

# %%
plot_saliency_evolution({"scd-byol": str(RUN)}, n_images=6, n_snapshots=3)
plt.show()
run = load_run(RUN)  # config, trained method (eval mode), data and probe in one call
snaps = RunDir(RUN).snapshots()
assert snaps[0]["step"] == 0 and "scd_fg" in run.maps(run.test.images[:4])
print(len(snaps), "snapshots; epoch", run.epoch, "; map shape", tuple(snaps[-1]["maps"]["scd_fg"].shape))

# %% [markdown]
# ## Summary and exercises
#
# * A method is modules: `SCD(BYOL(trunk))`; `Trainer(method, data, augment, train_cfg)` trains it.
# * A run is a folder: `RunDir(path)` reads its records and snapshots, `load_run(path)` its
#   trained method. The saliency explorer (notebook 05) reads the same folders.
# * Exercise: rerun with `method.alpha=0.0` and compare the AUROC curves. What does the margin do?
#   Add the override to `overrides` *and rename `RUN`* (e.g. `"nb01-scd-byol-alpha0"`): the old
#   folder holds a run of the old config, and `ensure_run` refuses to mix the two.
# * Exercise: rerun with `backbone.padding_mode=reflect` (again under a new `RUN`). Does the
#   map's `mean_map_std` change?
