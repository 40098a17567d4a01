"""The evaluation protocols of ``scd-lab eval``, as functions for notebooks.

Each function takes a loaded run (``scd_lab.runs.build.load_run``), a run directory, or a method held
in memory together with its data, and returns plain dicts:

    run = load_run("runs/cpu-scd-byol")
    knn_eval(run)                               # {"knn_top1_k20": ..., "knn_top1_k200": ...}
    linear_eval(run, features="fg")             # also writes RUN/eval/linear_fg.json (+ .pt)
    semi_eval(run, labels="10%")                # RUN/eval/semi_10pct.json, _indices.pt
    sal = evaluate_saliency(run)                # every map, centre prior, Grad-CAM vs masks
    export_run(run, "torchvision")              # RUN/export/...pth

    # a method in memory (no run directory; nothing is written unless ``out_dir`` is given)
    knn_eval(method, train=train, test=test)
    evaluate_saliency(method, images, masks, train=train)

Files a run directory gets (``RUN/eval/``): ``knn.json``, ``linear_{gap,fg}.json`` with the
probe's weights in ``linear_{gap,fg}.pt`` (Grad-CAM reuses ``linear_gap.pt``),
``semi_{P}pct.json`` and ``semi_{P}pct_indices.pt``, ``saliency.json``.
"""
from __future__ import annotations

import json
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..errors import UserError
from ..eval.features import eval_mode
from ..eval.knn import knn_top1
from ..eval.saliency_metrics import (centre_prior, minmax_normalize, per_image_aurocs,
                                     pointing_game, saliency_report, upsample_maps)
from ..data.augment import eval_transform
from .build import build_monitors
from .load import Run, load_run
from ..eval.linear import linear_probe
from ..eval.semi import finetune, label_subset
from ..eval.attribution import gradcam_maps
from ..methods import default_map_name
from .export import detectron2_pickle, torchvision_state_dict, trunk_layout

KNN_KS = (20, 200)
EVAL_DIR = "eval"
EXPORT_FORMATS = ("torchvision", "detectron2")


class EvalError(UserError, ValueError):
    """A request the evaluation cannot serve (bad option, wrong kind of run, no masks...)."""


def _bar(iterable, progress: bool, **kw):
    """A tqdm bar that shows only when asked and only on a terminal (never in logs/pipes)."""
    return tqdm(iterable, leave=False, disable=True if not progress else None, **kw)


# ------------------------------------------------------------------------------------------
# What is evaluated: a run, or a method and its data in memory


@dataclass
class Subject:
    """A method with everything an evaluation needs: ``transform`` (uint8 batch -> network
    input on ``device``), ``train`` / ``test`` (``ImageArray`` or None), and for a run its
    ``cfg``, ``path`` and ``run`` (else None)."""

    method: nn.Module
    transform: Callable[[Tensor], Tensor]
    device: torch.device
    train: object = None
    test: object = None
    cfg: object = None
    path: Path | None = None
    run: object = None

    @property
    def name(self) -> str:
        return getattr(self.method, "name", type(self.method).__name__)

    @property
    def eval_dir(self) -> Path | None:
        return None if self.path is None else self.path / EVAL_DIR

    def monitor_sets(self) -> dict:
        """bank / queries / held of the run's monitors, or (in memory) all of train / test."""
        if self.run is not None and self.train is self.run.train and self.test is self.run.test:
            return self.run.monitor_sets()
        held = self.test if self.test is not None and self.test.masks is not None else None
        return {"bank": self.train, "queries": self.test, "held": held}


def _default_transform(device):
    return lambda x: eval_transform(x.to(device), x.shape[-1])


def subject(run_or_method, train=None, test=None, transform=None) -> Subject:
    """A ``Subject`` from a ``Run``, a run directory (loaded with ``load_run``), or a method.

    ``train`` / ``test`` replace the run's data; for a method in memory ``transform`` defaults
    to the kit's test-time transform at the images' own size (ImageNet normalisation).

    Raises:
        RunError / EvalError: no run in the folder, no checkpoint, or not a method.
    """
    if isinstance(run_or_method, Subject):
        return run_or_method
    if isinstance(run_or_method, (str, os.PathLike)):
        path = Path(run_or_method)
        if not path.is_dir():
            raise EvalError(f"{str(path)!r} is not a folder; pass a run directory written by "
                            "`scd-lab train` (with config.yaml and checkpoints/last.pt)")
        run_or_method = load_run(path)
    if isinstance(run_or_method, Run):
        r = run_or_method
        return Subject(r.method, r.eval_input, r.device,
                       r.train if train is None else train, r.test if test is None else test,
                       r.cfg, Path(r.path), r)
    if isinstance(run_or_method, nn.Module) and hasattr(run_or_method, "features"):
        p = next(run_or_method.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
        return Subject(run_or_method, transform or _default_transform(device), device,
                       train, test)
    raise EvalError(f"expected a run directory, a Run (load_run) or a scd_lab method, got "
                    f"{type(run_or_method).__name__}")


def _need(data, which: str, purpose: str):
    if data is None:
        raise EvalError(f"{purpose} needs the {which} images; with a method in memory pass "
                        f"{'train' if which == 'training' else 'test'}=ImageArray")
    return data


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _head(s: Subject) -> dict:
    out = {"method": s.name}
    if s.run is not None:
        out.update(run_dir=str(s.path), step=s.run.step, epoch=s.run.epoch)
    return out


@torch.no_grad()
def _features(s: Subject, images: Tensor, kind: str = "gap", progress: bool = False,
              batch: int = 256, desc: str = "features") -> Tensor:
    """GAP (``kind="gap"``) or SCD foreground (``"fg"``) features of uint8 images: (N, C)."""
    fn = s.method.features if kind == "gap" else _fg_fn(s)
    with eval_mode(s.method):
        out = [fn(s.transform(chunk)).float() for chunk in
               _bar(images.split(batch), progress, desc=desc, unit="batch")]
    return torch.cat(out) if out else torch.zeros(0)


def _fg_fn(s: Subject):
    fn = getattr(s.method, "fg_features", None)
    if not callable(fn):
        raise EvalError(f"--features fg needs an SCD run (scd-byol, scd-moco): the foreground "
                        f"feature pools F with SCD's saliency map, and {s.name!r} has none; "
                        f"use --features gap")
    return fn


# ------------------------------------------------------------------------------------------
# kNN


def knn_eval(run_or_method, train=None, test=None, transform=None, ks=KNN_KS,
             tau: float | None = None, progress: bool = False, save: bool = False) -> dict:
    """Weighted kNN top-1 (cosine, temperature ``tau``; Wu et al., 2018) for each k in ``ks``.

    The bank is the training images (the run's kNN bank: ``train.knn_bank_size`` of them, drawn
    from the seed), the queries are held-out images (the run's first 2000 test images): two
    different splits, so no query is its own neighbour. Both go through the test-time
    transform. ``tau`` defaults to the run's ``train.knn_tau`` (0.07).

    Returns:
        {"knn_top1_k20": ..., "knn_top1_k200": ..., "k": [...], "tau", "bank", "queries", ...};
        with ``save`` (a run only) also written to ``RUN/eval/knn.json``.
    """
    s = subject(run_or_method, train, test, transform)
    sets = s.monitor_sets()
    bank = _need(sets["bank"], "training", "kNN")
    queries = _need(sets["queries"], "held-out", "kNN")
    if tau is None:
        tau = s.cfg.train.knn_tau if s.cfg is not None else 0.07
    fb = _features(s, bank.images, progress=progress, desc="kNN bank")
    fq = _features(s, queries.images, progress=progress, desc="kNN queries")
    out = {**_head(s), "tau": tau, "k": list(ks), "bank": len(bank), "queries": len(queries)}
    for k, acc in knn_top1(fq, queries.labels, fb, bank.labels, ks, tau).items():
        out[f"knn_top1_k{k}"] = acc
    if save and s.eval_dir is not None:
        _write_json(s.eval_dir / "knn.json", out)
    return out


# ------------------------------------------------------------------------------------------
# linear probe


def linear_eval(run_or_method, features: str = "gap", epochs: int = 100, lr: float = 0.1,
                weight_decay: float = 0.0, seed: int = 0, train=None, test=None, transform=None,
                progress: bool = False, save: bool = True) -> dict:
    """Linear probe on cached frozen features (``scd_lab.eval.linear``): GAP features or SCD's
    foreground feature h_fg, all training images, accuracy on all held-out images.

    With ``save`` and a run, writes ``RUN/eval/linear_{features}.json`` (the figures) and
    ``RUN/eval/linear_{features}.pt`` (weight, bias, mean, std: the probe, reused by Grad-CAM).

    Raises:
        EvalError: ``features`` not gap/fg, or ``fg`` for a method without SCD's map.
    """
    if features not in ("gap", "fg"):
        raise EvalError(f"--features must be gap or fg, got {features!r}")
    if epochs < 1:
        raise EvalError(f"--epochs must be at least 1, got {epochs}")
    s = subject(run_or_method, train, test, transform)
    if features == "fg":
        _fg_fn(s)
    tr = _need(s.train, "training", "the linear probe")
    te = s.test if s.test is not None else tr.subset(torch.arange(0))  # no test: NaN accuracy
    x_tr = _features(s, tr.images, features, progress, desc=f"{features} features (train)")
    x_te = _features(s, te.images, features, progress, desc=f"{features} features (test)")
    if len(te) == 0:
        x_te = x_tr[:0]
    nc = int(max(int(tr.labels.max()), int(te.labels.max()) if len(te) else 0)) + 1
    res = linear_probe(x_tr, tr.labels, x_te, te.labels, epochs=epochs, lr=lr,
                       weight_decay=weight_decay, seed=seed, num_classes=nc, progress=progress)
    out = {**_head(s), "features": features, "train_acc": res["train_acc"],
           "test_acc": res["test_acc"], "final_loss": res["final_loss"], "epochs": epochs,
           "lr": lr, "weight_decay": weight_decay, "seed": seed, "num_train": len(tr),
           "num_test": len(te), "num_classes": nc}
    probe = {k: res[k].detach().cpu() for k in ("weight", "bias", "mean", "std")}
    if save and s.eval_dir is not None:
        out["weights"] = f"linear_{features}.pt"
        s.eval_dir.mkdir(parents=True, exist_ok=True)
        torch.save(probe, s.eval_dir / f"linear_{features}.pt")
        _write_json(s.eval_dir / f"linear_{features}.json", out)
    out["probe"] = probe
    return out


def probe_as_linear(probe: dict) -> nn.Linear:
    """The probe (``weight`` (K, D), ``bias``, ``mean``, ``std`` on standardised features) as
    one ``nn.Linear`` on raw features: W' = W / std, b' = b - W' mean (same logits)."""
    w = probe["weight"].float() / probe["std"].float()[None, :]  # (K, D)
    b = probe["bias"].float() - w @ probe["mean"].float()  # (K,)
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    return layer


def gap_probe(run_or_method, progress: bool = False, epochs: int = 100, **kw) -> nn.Linear:
    """The linear probe on GAP features as an ``nn.Linear`` on raw features: loaded from
    ``RUN/eval/linear_gap.pt`` when there, else fitted (``linear_eval``) and stored."""
    s = subject(run_or_method, **kw)
    path = s.eval_dir / "linear_gap.pt" if s.eval_dir is not None else None
    if path is not None and path.is_file():
        probe = torch.load(path, weights_only=True)
    else:
        probe = linear_eval(s, "gap", epochs=epochs, progress=progress)["probe"]
    return probe_as_linear(probe)


# ------------------------------------------------------------------------------------------
# semi-supervised fine-tuning


def parse_fraction(labels: str | float) -> tuple[float, str]:
    """``"1%"`` -> (0.01, "1pct"); ``"10%"`` -> (0.1, "10pct"); a float in (0, 1] is a fraction.

    Raises:
        EvalError: not a percentage in (0, 100].
    """
    text = str(labels).strip()
    try:
        frac = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        frac = float("nan")
    if not 0 < frac <= 1:
        raise EvalError(f"--labels takes a percentage such as 1% or 10% (in (0, 100]), got "
                        f"{labels!r}")
    pct = frac * 100
    return frac, (f"{pct:g}" if pct == round(pct, 6) else f"{pct:.3g}").replace(".", "_") + "pct"


def semi_eval(run_or_method, labels: str | float = "10%", epochs: int = 5, lr: float = 0.05,
              batch: int = 64, seed: int = 0, train=None, test=None, transform=None,
              progress: bool = False, save: bool = True) -> dict:
    """Semi-supervised fine-tuning (``scd_lab.eval.semi``): a class-balanced ``labels`` share
    of the training images, drawn from ``seed``; a copy of the trunk and a new linear head are
    fine-tuned on them, top-1 on all held-out images.

    With ``save`` and a run, the drawn indices go to ``RUN/eval/semi_{P}pct_indices.pt`` and
    the figures to ``RUN/eval/semi_{P}pct.json``.
    """
    frac, tag = parse_fraction(labels)
    if epochs < 1:
        raise EvalError(f"--epochs must be at least 1, got {epochs}")
    s = subject(run_or_method, train, test, transform)
    tr = _need(s.train, "training", "fine-tuning")
    te = _need(s.test, "held-out", "fine-tuning")
    idx = label_subset(tr.labels, frac, seed=seed)
    sub = tr.subset(idx)
    nc = int(max(int(tr.labels.max()), int(te.labels.max()))) + 1
    res = finetune(s.method.encoder, sub.images, sub.labels, te.images, te.labels,
                   num_classes=nc, epochs=epochs, lr=lr, batch=batch, seed=seed,
                   transform=s.transform, device=s.device, progress=progress)
    out = {**_head(s), "labels": f"{frac * 100:g}%", "fraction": frac,
           "num_labelled": len(idx), "num_train": len(tr), "num_test": len(te),
           "test_acc": res["test_acc"], "train_acc": res["train_acc"],
           "final_loss": res["final_loss"], "epochs": epochs, "lr": lr, "seed": seed}
    if save and s.eval_dir is not None:
        s.eval_dir.mkdir(parents=True, exist_ok=True)
        torch.save(idx, s.eval_dir / f"semi_{tag}_indices.pt")
        out["indices"] = f"semi_{tag}_indices.pt"
        _write_json(s.eval_dir / f"semi_{tag}.json", out)
    return out


# ------------------------------------------------------------------------------------------
# saliency against masks


def saliency_maps(run_or_method, images: Tensor, gradcam: bool | nn.Linear = True,
                  progress: bool = False, batch: int = 128, **kw) -> dict[str, Tensor]:
    """Every map of the method (``scd_fg`` / ``lewel_maxvar`` / ``channel_sum``), the centre
    prior and Grad-CAM of the GAP linear probe's predicted class, all at feature resolution:
    ``{name: (N, h, w)}`` on the CPU.

    ``gradcam``: True (the stored or a newly fitted GAP probe, see ``gap_probe``), an
    ``nn.Linear`` on raw GAP features, or False (no Grad-CAM).
    """
    s = subject(run_or_method, **kw)
    parts: dict[str, list[Tensor]] = {}
    head = None
    if gradcam is True:
        head = gap_probe(s, progress=progress)
    elif isinstance(gradcam, nn.Module):
        head = gradcam
    if head is not None:
        head = head.to(s.device)
    for chunk in _bar(images.split(batch), progress, desc="saliency maps", unit="batch"):
        x = s.transform(chunk)
        with eval_mode(s.method), torch.no_grad():
            maps = s.method.saliency_maps(x)
        for k, v in maps.items():
            parts.setdefault(k, []).append(v.float().cpu())
        if head is not None:
            parts.setdefault("gradcam", []).append(
                gradcam_maps(s.method.encoder, head, x).float().cpu())
    out = {k: torch.cat(v) for k, v in parts.items()}
    n, h, w = next(iter(out.values())).shape
    out["centre_prior"] = centre_prior(n, h, w)
    return out


def score_maps(maps: dict[str, Tensor], masks: Tensor) -> tuple[dict, dict]:
    """Figures of every map against masks (B, H, W): each map upsampled bilinearly from
    feature resolution to the masks' size, then ``saliency_report`` (per-image min-max) and the
    pointing game. Returns ({name: {figure: value}}, {name: per-image AUROC (B,)})."""
    metrics, per_image = {}, {}
    masks = masks.cpu()
    for name, m in maps.items():
        up = upsample_maps(m.cpu(), tuple(masks.shape[-2:]))  # (B, H, W)
        rep = saliency_report(up, masks)
        metrics[name] = {"auroc": rep["auroc"], "auroc_per_image": rep["auroc_per_image"],
                         "polarity": rep["polarity"], "iou@0.5": rep["iou@0.5"],
                         "best_iou": rep["best_iou"], "pointing_game": pointing_game(up, masks),
                         "auroc_per_image_unsigned": rep["auroc_per_image_unsigned"]}
        per_image[name] = per_image_aurocs(minmax_normalize(up), masks)
    return metrics, per_image


def evaluate_saliency(run_or_method, images: Tensor | None = None, masks: Tensor | None = None,
                      gradcam: bool | nn.Linear = True, progress: bool = False,
                      save: bool | None = None, **kw) -> dict:
    """Every map, the centre prior and Grad-CAM against ground-truth masks.

    Args:
        run_or_method: a ``Run``, a run directory, or a method (then ``train=`` for Grad-CAM's
            probe, ``transform=`` optional).
        images, masks: uint8 (N, 3, H, W) and (N, H, W) in {0, 1}; default: the run's held-out
            images with masks (the saliency monitor's 500).
        gradcam: see :func:`saliency_maps`.
        save: write ``RUN/eval/saliency.json`` (default: when the run's own images are used).

    Returns:
        {"metrics": {map: {auroc, auroc_per_image, polarity, iou@0.5, best_iou, pointing_game,
        auroc_per_image_unsigned}}, "per_image_auroc": {map: (N,)}, "maps": {map: (N, h, w)},
        "num_images", ...}; ``json_ready(result)`` drops the tensors.

    Raises:
        EvalError: no masks given and the run's data has none; images and masks disagree.
    """
    s = subject(run_or_method, **kw)
    own = images is None
    if own:
        held = s.monitor_sets()["held"]
        if held is None:
            raise EvalError("this run's held-out images have no masks; pass images and masks "
                            "(`scd-lab eval saliency RUN --images DIR --masks DIR`)")
        images, masks = held.images, held.masks
    if masks is None or len(images) != len(masks) or tuple(images.shape[-2:]) != \
            tuple(masks.shape[-2:]):
        raise EvalError("need one mask (N, H, W) per image (N, 3, H, W), of the same size")
    if len(images) == 0:
        raise EvalError("no images to evaluate")
    maps = saliency_maps(s, images, gradcam=gradcam, progress=progress)
    metrics, per_image = score_maps(maps, masks)
    default = None
    if s.cfg is not None:
        default = default_map_name(s.cfg.method.name)
    out = {**_head(s), "num_images": len(images), "default_map": default, "metrics": metrics,
           "per_image_auroc": per_image, "maps": maps}
    if (own if save is None else save) and s.eval_dir is not None:
        _write_json(s.eval_dir / "saliency.json", json_ready(out))
    return out


def json_ready(result: dict) -> dict:
    """``result`` without its tensors (maps, per-image values, probe weights)."""
    return {k: v for k, v in result.items() if k not in ("maps", "per_image_auroc", "probe")}


# ------------------------------------------------------------------------------------------
# image + mask folders


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _warn_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _open(path, mode: str):
    """(the image converted to ``mode``, None), or (None, the error's type) for a bad file."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode), None
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a bad file
        return None, type(e).__name__


def read_image_mask_folder(images_dir, masks_dir, size: int, warn=_warn_stderr,
                           progress: bool = False) -> dict:
    """Images of a folder with binary PNG masks of the same stem, resized to ``size``.

    Images are resized bilinearly (RGB), masks nearest-neighbour; a mask pixel is object when
    above 127 (0/255 masks) or above 0 (0/1 masks). A corrupt image or mask, a missing mask,
    and a mask whose size differs from its image's are skipped, each with one ``warn`` line
    naming the file.

    Returns:
        {"images": uint8 (N, 3, size, size), "masks": uint8 (N, size, size), "names": [stem],
        "skipped": [(file, reason)]}.

    Raises:
        EvalError: a folder is missing, or no image pair is usable.
    """
    import numpy as np
    from PIL import Image
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for d, what in ((images_dir, "--images"), (masks_dir, "--masks")):
        if not d.is_dir():
            raise EvalError(f"{what} {str(d)!r} is not a folder")
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    imgs, msks, names, skipped = [], [], [], []

    def skip(path, reason):
        skipped.append((str(path), reason))
        warn(f"warning: skipped {path}: {reason}")

    for path in _bar(files, progress, desc="reading images", unit="image"):
        mpath = masks_dir / f"{path.stem}.png"
        if not mpath.is_file():
            skip(path, f"no mask {mpath.name} in {masks_dir}")
            continue
        img, err = _open(path, "RGB")
        if img is None:
            skip(path, f"unreadable image ({err})")
            continue
        mask, err = _open(mpath, "L")
        if mask is None:
            skip(mpath, f"unreadable mask ({err})")
            continue
        if mask.size != img.size:
            skip(mpath, f"mask is {mask.size[0]}x{mask.size[1]}, its image "
                        f"{img.size[0]}x{img.size[1]}")
            continue
        img = np.asarray(img.resize((size, size), Image.BILINEAR))  # (S, S, 3)
        m = np.asarray(mask.resize((size, size), Image.NEAREST))  # (S, S)
        m = m > (127 if m.max() > 1 else 0)
        imgs.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
        msks.append(torch.from_numpy(m.astype(np.uint8)))
        names.append(path.stem)
    if not imgs:
        raise EvalError(f"no usable image with a mask in {str(images_dir)!r} "
                        f"({len(skipped)} skipped); masks are PNGs named like their image")
    return {"images": torch.stack(imgs), "masks": torch.stack(msks), "names": names,
            "skipped": skipped}


def input_size(run_or_method, default: int = 64) -> int:
    """The stored image side of a run (``data.image_size``), else ``default``."""
    s = subject(run_or_method)
    return int(s.cfg.data.image_size) if s.cfg is not None else default


# ------------------------------------------------------------------------------------------
# export


def export_run(run_or_method, format: str = "torchvision", out=None) -> dict:
    """Write the online trunk for torchvision (a state dict, zero ``fc``) or Detectron2 (the
    pickle layout of MoCo's converter), see ``scd_lab.runs.export``.

    ``out`` defaults to ``RUN/export/{arch}_{method}.pth`` (torchvision) or ``.pkl``.

    Raises:
        EvalError: unknown format, no ``out`` for a method in memory, or a trunk that is no
            torchvision ResNet (``resnet_tiny``).
    """
    if format not in EXPORT_FORMATS:
        raise EvalError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    s = subject(run_or_method)
    arch = s.cfg.backbone.arch if s.cfg is not None else None
    try:
        arch, small = trunk_layout(s.method.encoder)
    except ValueError:
        raise EvalError(f"only resnet18 / resnet50 trunks export; this "
                        f"{'run' if s.cfg is not None else 'method'}'s trunk is "
                        f"{arch or 'no torchvision ResNet'}") from None
    if out is None:
        if s.path is None:
            raise EvalError("say where to write the export (out=...)")
        out = s.path / "export" / f"{arch}_{s.name}.{'pth' if format == 'torchvision' else 'pkl'}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "torchvision":
        sd = torchvision_state_dict(s.method.encoder)
        torch.save(sd, out)
        keys = len(sd)
    else:
        keys = len(detectron2_pickle(s.method.encoder, out)["model"])
    return {**_head(s), "format": format, "arch": arch, "small_stem": small, "out": str(out),
            "keys": keys}


__all__ = ["EvalError", "Subject", "subject", "knn_eval", "linear_eval", "probe_as_linear",
           "gap_probe", "parse_fraction", "semi_eval", "saliency_maps", "score_maps",
           "evaluate_saliency", "json_ready", "read_image_mask_folder", "input_size",
           "export_run"]


def evaluate_run(run_dir: str) -> dict:
    """Load the run (``load_run``) and measure kNN and saliency on its held-out images, with
    the same monitors and images as during training. Nothing is written to the run."""
    run = load_run(run_dir)
    out = {"run_dir": str(run_dir), "step": run.step, "epoch": run.epoch}
    for monitor in build_monitors(run.cfg, run.train, run.test):
        out.update(monitor.compute(run.method, run.eval_input, contextlib.nullcontext))
    return out

