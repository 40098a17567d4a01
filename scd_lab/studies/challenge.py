"""The open-ended challenge of notebook 09: make SCD's map find the object.

A submission is a run of an SCD method trained from the challenge's starting point (the ``cpu``
preset's SCD-BYOL) with the student's overrides. It is scored on held-out images that the
student cannot change, beside the baselines and the ceiling of the same network:

    cfg = challenge_config(["backbone.padding_mode=reflect"])   # the starting point + yours
    ensure_run(cfg, submission_dir(["backbone.padding_mode=reflect"]))
    s = score(submission_dir(["backbone.padding_mode=reflect"]))
    print(leaderboard_markdown([s]))            # or: scd-lab challenge RUN...
    score_run(run_dir)                          # score, kept in RUN/eval/challenge.json

**The score** is the pooled AUROC of the run's own map M_fg (``scd_fg``), each map min-max
normalised per image and upsampled to the masks, on the first ``n`` held-out images of the
*reference* data (the starting point's: the same 500 images the saliency monitor measures on
the default split). It is signed: "finding the object" means foreground-high, so an inverted
map scores below 0.5. The polarity and the per-image unsigned AUROC (polarity chosen per image)
are reported beside it, not scored.

**Beside it**, on the same images: the centre prior, the channel-sum map of the run's own
features, M_fg of the untrained network (the same config and seed at step 0), and the ceiling:
SCD's saliency-net architecture trained *with* the masks on the run's frozen features
(:func:`scd_lab.eval.map_ceiling.supervised_map_ceiling`), measured the same way.

**The rules** (:func:`check_rules`): any key of the method (an SCD method: ``scd-byol`` or
``scd-moco``), the augmentation, the optimiser, the training data's generator knobs and seed,
and ``backbone.padding_mode`` may change; the network (``backbone`` arch, widths, blocks,
strides, stem) and the dataset and image size may not; at most ``budget_pairs`` two-view pairs
are seen in training (steps x batch). The held-out images are always built from the
reference config, so changing the data knobs changes the training images only.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from ..config import Config, apply_overrides, get_preset, resolve
from ..data.synthetic import SyntheticSpec
from ..errors import RunError
from ..eval.features import method_maps
from ..eval.map_ceiling import feature_maps, supervised_map_ceiling
from ..eval.saliency_metrics import centre_prior
from ..methods import build_method, default_map_name
from ..paths import runs_root
from ..rundir import RunDir
from ..runs.build import build_data, config_differences
from ..runs.load import Run, load_run
from ..runs.scoring import CHALLENGE_FIGURES, score_maps
from ..tables import table_markdown
from ..train import smoke_note
from ..viz.explorer import reference_runs
from .smoke import SMOKE_OVERRIDES

STARTING_PRESET = "cpu"
SCD_METHODS = ("scd-byol", "scd-moco")
FIXED = ("backbone.arch", "backbone.small_stem", "backbone.widths", "backbone.blocks",
         "backbone.strides", "data.dataset", "data.root", "data.image_size")
# keys that change how a run reports, not what it learns: left out of the listed changes
QUIET = ("preset", "train.progress", "train.num_workers", "train.device", "train.knn_every",
         "train.knn_k", "train.knn_tau", "train.knn_bank_size", "train.snapshot_every",
         "train.probe_size", "train.log_every", "train.ckpt_every")
# Per tier: held-out images scored, training images and Adam steps of the ceiling (the
# defaults of scd-lab study ceiling in full), and the budget in two-view pairs. Full: 15
# epochs of the 5,000 training images at batch 64 (1,170 steps), the conditions study's budget.
TIERS = {
    "full": {"n": 500, "ceiling_train": 3000, "ceiling_steps": 1500, "budget_pairs": 15 * 78 * 64},
    "smoke": {"n": 64, "ceiling_train": 128, "ceiling_steps": 100, "budget_pairs": 3 * 4 * 32},
}
# The rows of a score, in the leaderboard's order: (key, what it is).
ROWS = (("student", "the run's own map M_fg (self-supervised): the score"),
        ("centre_prior", "baseline: a Gaussian at the image centre"),
        ("channel_sum", "baseline: channel sum of the run's own feature map"),
        ("init", "baseline: M_fg of the untrained network (same config and seed, step 0)"),
        ("ceiling", "ceiling: SCD's map architecture trained with the masks on the run's "
                    "frozen features"))
FIGURES = CHALLENGE_FIGURES  # the figures of each row (``scd_lab.runs.scoring``)


def starting_config(smoke: bool = False) -> Config:
    """The challenge's starting point: the ``cpu`` preset's SCD-BYOL (6 epochs, 468 steps of
    batch 64); with ``smoke`` the tiny smoke-mode network and split of the notebooks."""
    cfg = get_preset(STARTING_PRESET)
    if smoke:
        cfg = apply_overrides(cfg, SMOKE_OVERRIDES)
    return cfg


def challenge_config(overrides=(), smoke: bool = False) -> Config:
    """The starting point with the student's ``section.key=value`` overrides applied."""
    return apply_overrides(starting_config(smoke), list(overrides))


def submission_dir(overrides=(), smoke: bool = False, root=None) -> Path:
    """Where a submission's run goes: ``runs_root()/challenge/<name>``, the name readable and
    unique to the overrides (``start`` without any), so a rerun reuses the run on disk."""
    root = Path(root) if root is not None else runs_root() / "challenge"
    name = "start"
    if overrides:
        text = ",".join(overrides)
        slug = re.sub(r"[^A-Za-z0-9.=_-]+", "_", text.replace("method.", "").replace(
            "data.", "").replace("backbone.", "").replace("train.", ""))[:48]
        name = f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return root / (("smoke-" if smoke else "") + name)


def config_changes(cfg: Config, reference: Config) -> dict:
    """``{"section.key": value}`` of every key where the resolved ``cfg`` differs from the
    resolved ``reference`` (reporting-only keys left out)."""
    diff = config_differences(resolve(cfg), resolve(reference), ignore=QUIET)
    return {name: mine for name, (mine, _) in diff.items()}


def planned_steps(cfg: Config) -> int:
    """Optimizer steps a config trains for (the trainer's ``max_steps or epochs x
    num_train // batch_size``; the synthetic split's 5,000 images when ``num_train`` is unset)."""
    t, n = cfg.train, cfg.data.num_train or SyntheticSpec().num_train
    return t.max_steps or t.epochs * (n // t.batch_size)


def tier_of(cfg: Config) -> str | None:
    """The tier whose network and data a config keeps (``"full"`` or ``"smoke"``: none of
    ``FIXED`` changed from that tier's starting point), else None."""
    for tier in ("full", "smoke"):
        if not set(FIXED) & set(config_changes(cfg, starting_config(tier == "smoke"))):
            return tier
    return None


def check_tier(cfg: Config, smoke: bool, where="the run") -> None:
    """Raise ``RunError`` when ``cfg`` is a run of the other tier than the one asked for (a
    smoke run scored without ``--smoke`` would only break the rules), naming the fix."""
    tier = tier_of(cfg)
    if tier == "smoke" and not smoke:
        raise RunError(f"{where} is a smoke-tier run (the smoke tier's tiny network and "
                       "32 px images): score it with --smoke (`scd-lab challenge --smoke RUN`, "
                       "score(run, smoke=True)); smoke scores mean nothing about the method")
    if tier == "full" and smoke:
        raise RunError(f"{where} is a full-tier run: score it without --smoke")


def check_rules(cfg: Config, smoke: bool = False, steps: int | None = None,
                reference: Config | None = None) -> list[str]:
    """What a config breaks of the challenge's rules (empty: none).

    Args:
        cfg: the submission's config.
        smoke: the tier (its starting point and budget).
        steps: steps trained (default: :func:`planned_steps`).
        reference: the starting point (default: :func:`starting_config`).
    """
    reference = reference or starting_config(smoke)
    problems = []
    if cfg.method.name not in SCD_METHODS:
        problems.append(f"method.name={cfg.method.name}: the challenge is about SCD's map; "
                        f"use one of {list(SCD_METHODS)}")
    changes = config_changes(cfg, reference)
    if not smoke and tier_of(cfg) == "smoke":
        problems.append("a smoke-tier run (its network and images are the smoke tier's): "
                        "use the smoke tier (--smoke, smoke=True)")
    for key in FIXED:
        if key in changes:
            problems.append(f"{key}={changes[key]}: the network and the dataset are fixed "
                            "(only backbone.padding_mode may change)")
    steps = planned_steps(cfg) if steps is None else steps
    pairs = steps * cfg.train.batch_size
    budget = TIERS["smoke" if smoke else "full"]["budget_pairs"]
    if pairs > budget:
        problems.append(f"{steps} steps x batch {cfg.train.batch_size} = {pairs:,} pairs, over "
                        f"the budget of {budget:,}")
    return problems


def map_scores(maps: dict, masks: torch.Tensor) -> dict:
    """The challenge's figures of each named map (N, h, w) against masks (N, H, W): each map
    upsampled and min-max normalised per image (``scd_lab.runs.scoring.score_maps``).

    Returns:
        ``{name: {"auroc", "polarity", "auroc_per_image_unsigned", "pointing_game",
        "best_iou"}}``; ``auroc`` is pooled over pixels and signed (below 0.5: inverted).
    """
    return score_maps(maps, masks, FIGURES)[0]


@torch.no_grad()
def _init_map(cfg: Config, images: torch.Tensor, transform, device) -> torch.Tensor:
    """M_fg of the network a run of ``cfg`` starts from (seeded as ``build_run`` seeds it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        method = build_method(cfg)
    maps = method_maps(method.to(device), images, transform)
    return maps[default_map_name(cfg.method.name)].cpu()


def score(run, smoke: bool = False, n: int | None = None, ceiling_train: int | None = None,
          ceiling_steps: int | None = None, reference: Config | None = None, data=None,
          keep_maps: bool = False) -> dict:
    """Score a submission: its map, the baselines and the ceiling on the held-out images.

    Args:
        run: a run directory or a ``Run`` (``load_run``); it needs ``checkpoints/last.pt``.
        smoke: the tier: its starting point (which fixes the held-out data) and defaults
            (``TIERS``).
        n: held-out images scored (the first ``n`` of the reference test split).
        ceiling_train, ceiling_steps: training images (the first of the reference train
            split) and Adam steps of the supervised ceiling.
        reference: the config whose data gives the held-out images (default: the starting
            point).
        data: a (train, test) ``ImageArray`` pair instead of building the reference data.
        keep_maps: also return ``"tensors"``: the images, masks and every map.

    Returns:
        ``{"run", "name", "method", "score", "polarity", "maps": {row: figures}, "num_images",
        "steps", "pairs", "changes", "violations", "ceiling": {...}}``. ``score`` is the signed
        pooled AUROC of M_fg; ``maps`` holds the rows of ``ROWS``, each as :func:`map_scores`.
    """

    tier = TIERS["smoke" if smoke else "full"]
    n, ceiling_train = n or tier["n"], ceiling_train or tier["ceiling_train"]
    ceiling_steps = ceiling_steps or tier["ceiling_steps"]
    if not isinstance(run, Run):
        run = load_run(run, with_data=False)
    if reference is None:
        check_tier(run.cfg, smoke, where=str(run.path))
    reference = reference or starting_config(smoke)
    train, test = data if data is not None else build_data(resolve(reference).data)
    if test.masks is None or train.masks is None:
        raise RunError("the reference data has no masks: the challenge needs the synthetic data")
    held = test.subset(torch.arange(min(n, len(test))))
    fit = train.subset(torch.arange(min(ceiling_train, len(train))))

    own = run.maps(held.images)
    name = default_map_name(run.cfg.method.name)
    student = own.get(name, own["channel_sum"]).cpu()  # a non-SCD run breaks the rules
    f_fit = feature_maps(run.method.encoder, fit.images, run.eval_input)  # (n_fit, C, h, w)
    f_held = feature_maps(run.method.encoder, held.images, run.eval_input)  # (n, C, h, w)
    ceil = supervised_map_ceiling(f_fit, fit.masks, f_held, held.masks, steps=ceiling_steps,
                                  seed=run.cfg.train.seed, return_net=True)
    with torch.no_grad():
        ceiling_map = torch.sigmoid(ceil["net"].logits(f_held))  # (n, h, w)
    maps = {"student": student,
            "centre_prior": centre_prior(*student.shape),
            "channel_sum": own["channel_sum"].cpu(),
            "init": _init_map(run.cfg, held.images, run.eval_input, run.device),
            "ceiling": ceiling_map}
    figures = map_scores(maps, held.masks)
    out = {"run": str(run.path), "name": Path(run.path).name, "method": run.cfg.method.name,
           "score": figures["student"]["auroc"], "polarity": figures["student"]["polarity"],
           "maps": figures, "num_images": len(held), "steps": run.step,
           "pairs": run.step * run.cfg.train.batch_size,
           "changes": config_changes(run.cfg, reference),
           "violations": check_rules(run.cfg, smoke, steps=run.step, reference=reference),
           "ceiling": {"train_images": len(fit), "steps": ceiling_steps,
                       "train_auroc": ceil["train_auroc"], "final_bce": ceil["final_bce"]}}
    if keep_maps:
        out["tensors"] = {"images": held.images, "masks": held.masks, **maps}
    return out


def score_run(run_dir, smoke: bool = False, fresh: bool = False, keep_maps: bool = False) -> dict:
    """:func:`score` of a finished run directory with the tier's settings, kept in
    ``RUN/eval/challenge.json`` (``challenge-smoke.json``) and reused while the run has not
    trained further: the ceiling's training is most of the cost (minutes on the CPU tier).
    ``fresh`` scores again; ``keep_maps`` too (the maps are not kept on disk)."""

    rd = RunDir(run_dir)
    name = f"challenge{'-smoke' if smoke else ''}"
    steps = rd.summary().get("steps") if rd.is_finished() else None
    if not (fresh or keep_maps) and steps is not None:
        kept = rd.read_eval(name)
        if kept is not None and kept.get("steps") == steps:
            return kept
    out = score(run_dir, smoke=smoke, keep_maps=keep_maps)
    rd.write_eval(name, {k: v for k, v in out.items() if k != "tensors"})
    return out


LEADERBOARD_COLUMNS = ("rank", "submission", "changes from the start", "**score**: M_fg AUROC",
                       "polarity", "per image, unsigned", "centre prior", "channel sum",
                       "init map", "ceiling", "rules")
REFERENCE_COLUMNS = ("reference run", "data, padding, α, epochs", "map", "AUROC step 0 → end",
                     "per image, unsigned, end", "channel sum end")


def leaderboard_markdown(scores) -> str:
    """A Markdown leaderboard of one score or several, best score first: each submission's
    signed AUROC of M_fg (the score), its polarity and per-image unsigned AUROC, beside the
    AUROC of the baselines and the ceiling on the same images, then any broken rule."""
    scores = [scores] if isinstance(scores, dict) else list(scores)
    ranked = sorted(scores, key=lambda s: -s["score"])
    rows = []
    for i, s in enumerate(ranked, 1):
        m = s["maps"]
        flag = "" if s["polarity"] > 0 else " (inverted)"
        cells = (i, s["name"],
                 ", ".join(f"{k}={v}" for k, v in s["changes"].items()) or "none",
                 f"**{s['score']:.3f}**{flag}", f"{s['polarity']:+d}",
                 f"{m['student']['auroc_per_image_unsigned']:.3f}",
                 f"{m['centre_prior']['auroc']:.3f}", f"{m['channel_sum']['auroc']:.3f}",
                 f"{m['init']['auroc']:.3f}", f"{m['ceiling']['auroc']:.3f}",
                 "ok" if not s["violations"] else "broken")
        rows.append(dict(zip(LEADERBOARD_COLUMNS, cells)))
    lines = table_markdown(rows, LEADERBOARD_COLUMNS).splitlines()
    n = {s["num_images"] for s in ranked}
    lines.append("")
    lines.append(f"AUROC pooled over the pixels of {', '.join(map(str, sorted(n)))} held-out "
                 "images, each map min-max normalised per image; the ceiling is trained with "
                 "the masks and is not a self-supervised map.")
    for s in ranked:
        for problem in s["violations"]:
            lines.append(f"- {s['name']} breaks a rule: {problem}")
        if note := smoke_note(s.get("steps")):
            lines.append(f"- {s['name']}: {note}")
    return "\n".join(lines)


def reference_answers(root=None) -> str:
    """A Markdown table of the shipped reference runs (``scd_lab/shipped/reference_runs``: the
    kit's own measured answers), read from their files: each run's own map at step 0 and at its
    end, per image (unsigned) and the channel-sum map. Their held-out images are those of each run's own data
    (the ``distinct-*`` runs: distinct-texture images), not the challenge's."""
    rows = []
    runs = reference_runs(root=root)
    for label, path in sorted(runs.items(), key=lambda kv: kv[0].startswith("ceiling")):
        rd = RunDir(path)
        sal = rd.metrics("saliency")
        if not sal:
            continue
        first, last = sal[0], sal[-1]
        if rd.exists():
            cfg = rd.config()
            name = default_map_name(cfg.method.name)
            data = "distinct textures" if cfg.data.distinct_textures else "default"
            what = f"{data}, {cfg.backbone.padding_mode}, {cfg.method.alpha:g}, {cfg.train.epochs}"
        else:  # the supervised ceiling's folder holds no config
            name, what = "ceiling", "trained with the masks on distinct-zeros's features"
        if f"{name}/auroc" not in last:
            continue
        start = f"{first[f'{name}/auroc']:.3f} → " if first["step"] != last["step"] else ""
        chan = f"{last['channel_sum/auroc']:.3f}" if "channel_sum/auroc" in last else "–"
        rows.append(dict(zip(REFERENCE_COLUMNS, (
            label, what, name, f"{start}{last[f'{name}/auroc']:.3f}",
            f"{last[f'{name}/auroc_per_image_unsigned']:.3f}", chan))))
    return table_markdown(rows, REFERENCE_COLUMNS).rstrip("\n")
