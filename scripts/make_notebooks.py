"""Write notebooks/*.ipynb from the cell lists below (no outputs). Run after editing."""
from pathlib import Path

import nbformat as nbf

QUICKSTART = [
    ("md", """# 01 · Quickstart: train, watch the maps, read the numbers

This notebook runs the kit end to end on the embedded dataset: it trains SCD-BYOL on the CPU tier,
then shows what the run directory holds: the metrics, and the saliency maps of the probe images
across epochs beside their ground-truth masks.

`SMOKE = True` (what CI runs) trains a few steps on a small split in about a minute; set it to
`False` for the CPU-tier run (a few minutes), or point `RUN` at a run made by `scd-lab demo`."""),
    ("code", """SMOKE = True          # parameters cell: CI executes the notebook with SMOKE = True"""),
    ("code", """import matplotlib.pyplot as plt

from scd_lab import apply_overrides, ensure_run, get_preset, runs_root
from scd_lab.train import RunDir, format_summary
from scd_lab.viz import plot_metrics, plot_saliency_evolution"""),
    ("md", """## Train (or load) a run

The `cpu` preset is a narrow ResNet (widths 16-32-64-128) with a small stem, 32 px views of the
64 px synthetic images, and an 8×8 feature map. Overrides use the same `section.key=value` strings
as `scd-lab train --set`."""),
    ("code", """overrides = ["method.name=scd-byol", "train.epochs=4"]
if SMOKE:
    overrides += ["data.num_train=512", "data.num_test=128", "train.epochs=2",
                  "train.knn_bank_size=512", "train.progress=false"]
cfg = apply_overrides(get_preset("cpu"), overrides)
# one folder at the repository root, whatever the working directory; a finished run is
# reused and a stopped one resumed, so rerunning this cell never trains twice
RUN = runs_root() / ("nb01-scd-byol" + ("-smoke" if SMOKE else ""))
print(format_summary(ensure_run(cfg, RUN)))"""),
    ("md", """## What was measured

kNN top-1 on held-out images (bank and queries never overlap) and the AUROC of SCD's map
M_fg against the masks, at step 0 and after every epoch. AUROC 0.5 is chance; the untrained
channel-sum map and the centre prior are the baselines to beat (README)."""),
    ("code", """fig = plot_metrics({"scd-byol": RUN}, keys=("knn_top1",), kind="knn")
fig2 = plot_metrics({"scd-byol": RUN}, keys=("scd_fg/auroc", "channel_sum/auroc",
                                             "scd_fg/mean"), kind="saliency")
plt.show()"""),
    ("md", """## The maps across epochs

Every map is min-max normalised per image before it is shown (`docs/method.md`). A map that
is the same for every image, whatever the object, is a positional shortcut: compare the rows."""),
    ("code", """fig = plot_saliency_evolution({"scd-byol": RUN}, n_images=6, n_snapshots=3)
plt.show()
snaps = RunDir(RUN).snapshots()
assert snaps[0]["step"] == 0 and "scd_fg" in snaps[-1]["maps"]
print(len(snaps), "snapshots; map shape", tuple(snaps[-1]["maps"]["scd_fg"].shape))"""),
    ("md", """## Summary and exercises

* The run directory is the interface: `RunDir(path).metrics()`, `.snapshots()`, `.probe()`.
* Exercise: rerun with `method.alpha=0.0` and compare the AUROC curves. What does the margin do?
* Exercise: rerun with `backbone.padding_mode=reflect`. Does the map's `mean_map_std` change?"""),
]


def write(name: str, cells) -> None:
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    out = Path(__file__).resolve().parents[1] / "notebooks" / name
    nbf.write(nb, out)
    print(out)


if __name__ == "__main__":
    write("01_quickstart.ipynb", QUICKSTART)
