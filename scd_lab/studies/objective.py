"""``scd-lab study objective``: what SCD's objective prefers, on a frozen trunk, seed by seed.

One *cell* is a trunk (``random``: the config's architecture at random init with BN
calibrated on augmented views; or a run directory: its trained online encoder, e.g. of a
``supervised`` run), a dataset, the heads (``scd`` or ``lewel``) and the margin α. For each
seed the frozen-feature probe (``scd_lab.studies.probe``) trains the heads and measures the
map on 500 held-out images; with ``--oracle`` the loss L_d reached with the map fixed to the
mask and to its inverse is recorded too. Each seed's result is a JSON file: the study is
resumable (finished seeds are skipped) and can run in the background. ``--device cuda``
runs the probe (and ``study trunks``) on a GPU: the same views, drawn on the CPU.

    scd-lab study objective --trunk runs/sup --data distinct --alpha 1 --seeds 0,1,2 --oracle
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..config import apply_overrides, get_preset, resolve
from ..errors import UserError
from ..train.device import resolve_device
from ..runs.build import build_augment, build_data
from ..runs.load import load_run
from ..models import backbone_from_config, channel_sum_map
from .probe import calibrate_bn, objective_probe, oracle_loss, view_pool
from ..paths import study_dir
from ..rundir import RunDir
from ..tables import fmt_mean_se, mean_se, table_markdown
from ..eval.knn import knn_top1
from ..eval.map_ceiling import feature_maps, supervised_map_ceiling
from ..eval.saliency_metrics import auroc

DATA = {"default": [], "distinct": ["data.num_classes=5", "data.distinct_textures=true",
                                    "data.camouflage=0.0"]}
HELD = 500
LAM = 0.5  # λ of the probe's λ·L_d (SCD's default), and of the oracle's
# the shipped results of scripts/findings.sh (docs/findings.md); notebook 07 reads them
SHIPPED = study_dir()


def study_device(device: str) -> torch.device:
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``; a GPU that torch cannot see is one line."""
    return resolve_device(device, "--device")


def _trunk_and_data(trunk: str, data: str | None, seed: int, device="cpu"):
    """(trunk, cfg): a run's online encoder (eval mode) or a calibrated random one, on
    ``device`` (the data stays on the CPU)."""
    if trunk == "random":
        cfg = apply_overrides(get_preset("cpu"), DATA[data or "default"])
        cfg = resolve(cfg)
        train, test = build_data(cfg.data)
        torch.manual_seed(seed)
        net = calibrate_bn(backbone_from_config(cfg.backbone).to(device), train.images,
                           build_augment(cfg.data), seed=seed)
        return net, cfg, (train, test)
    if not RunDir(trunk).exists():
        raise UserError(f"--trunk {trunk!r} is neither 'random' nor a run directory; train one "
                        "with `scd-lab train --method supervised --out DIR` (or any method)")
    run = load_run(trunk, device=str(device))
    cfg = run.cfg
    if data is not None:
        cfg = apply_overrides(cfg, DATA[data])
        train, test = build_data(cfg.data)
    else:
        train, test = run.train, run.test
    return run.method.encoder.eval(), cfg, (train, test)


def run_cell(trunk: str, out: Path, data: str | None = None, method: str = "scd",
             alpha: float = 1.0, seeds=(0,), steps: int = 2000, batch: int = 64,
             oracle: bool | list[int] = False, head_overrides: dict | None = None,
             progress: bool = True, device="cpu") -> list[dict]:
    """Run (or read back) every seed of one cell on ``device``; returns the per-seed results
    (a finished seed is read back whatever device it ran on)."""
    results = []
    for seed in seeds:
        path = out / f"seed{seed}.json"
        res = json.loads(path.read_text()) if path.is_file() else None
        wants_oracle = method == "scd" and (oracle is True or bool(oracle and seed in oracle))
        if res is not None:
            if (res["steps"], res.get("batch", batch)) != (steps, batch):
                raise UserError(f"{str(path)!r} was made with --steps {res['steps']} --batch "
                                f"{res.get('batch')}, not {steps} and {batch}; give those, or "
                                "another --out or --label")
            if not wants_oracle or "oracle_mask" in res:
                results.append(res)
                continue
        net, cfg, (train, test) = _trunk_and_data(trunk, data, seed, device)
        held = test.subset(torch.arange(min(HELD, len(test))))
        if held.masks is None:
            raise UserError(f"the data of {trunk!r} has no masks; the study needs held-out masks")
        augment = build_augment(cfg.data)
        m = cfg.method
        kw = dict(proj_hidden=m.proj_hidden or 1024, proj_dim=m.proj_dim or 256,
                  pred_hidden=m.pred_hidden or 1024, **(head_overrides or {}))
        # one pool of view features per seed, shared by the probe and its two oracles
        pool = view_pool(net, train, augment, batch, steps, seed)
        if res is None:
            res = objective_probe(net, train, held, augment, method=method, alpha=alpha,
                                  lam=LAM, steps=steps, batch=batch, seed=seed,
                                  progress=progress, pool=pool, **kw)
        if wants_oracle:  # the same views, λ and learning rate as the probe
            for which in ("mask", "inverse"):
                res[f"oracle_{which}"] = oracle_loss(net, train, augment, which, alpha=alpha,
                                                     lam=LAM, steps=steps, batch=batch,
                                                     seed=seed, progress=progress, pool=pool,
                                                     **kw)["final_loss"]
            res["oracle_lam"] = LAM
        del pool
        res.update(trunk=trunk, data=data or ("default" if trunk == "random" else "own"),
                   cell=out.name, device=str(device), batch=batch)
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(path)
        results.append(res)
    return results


def _mse(values: list[float]) -> str:
    """mean ± standard error over seeds (``sweep.mean_se``, formatted by ``fmt_mean_se``)."""
    return fmt_mean_se(*mean_se(values)[:2])


COLUMNS = ["cell", "seeds", "map AUROC step 0", "map AUROC end",
           "per image, polarity per image, end", "polarity +1 / -1", "L_d learned", "L_d mask",
           "L_d inverse"]


def objective_row(results: list[dict]) -> dict:
    """One cell's row of the study's table: mean ± se over its seeds (a dict, column ->
    text)."""
    first = [r["history"][0] for r in results]
    last = [r["history"][-1] for r in results]
    pol = [h["polarity"] for h in last]
    return {"cell": results[0]["cell"], "seeds": str(len(results)),
            "map AUROC step 0": _mse([h["auroc"] for h in first]),
            "map AUROC end": _mse([h["auroc"] for h in last]),
            "per image, polarity per image, end":
                _mse([h["auroc_per_image_unsigned"] for h in last]),
            "polarity +1 / -1": f"{pol.count(1)} / {pol.count(-1)}",
            "L_d learned": _loss_cell(results),
            "L_d mask": _oracle(results, "oracle_mask"),
            "L_d inverse": _oracle(results, "oracle_inverse")}


def objective_table(cells) -> str:
    """The study's Markdown table: one row per cell (``cells``: a list of per-seed results, or
    ``read_cells``'s {cell name: per-seed results})."""
    cells = cells.values() if isinstance(cells, dict) else cells
    return table_markdown([objective_row(results) for results in cells], COLUMNS)


def per_seed_table(cells: dict[str, list[dict]]) -> str:
    """The study's table with one row per seed of every cell."""
    return table_markdown([
        {"cell": cell, "seed": str(r["seed"]),
         "map AUROC step 0": f"{r['history'][0]['auroc']:.3f}",
         "map AUROC end": f"{r['history'][-1]['auroc']:.3f}",
         "polarity": f"{r['history'][-1]['polarity']:+d}",
         "per image, unsigned": f"{r['history'][-1]['auroc_per_image_unsigned']:.3f}",
         "L_d learned": _named_loss(r, f"{r['final_loss']:.4f}")}
        for cell, results in cells.items() for r in results])


def _loss_cell(results: list[dict]) -> str:
    """The loss the heads reached: L_d for SCD; for LEWEL its own loss, which is not L_d and
    says so."""
    return _named_loss(results[0], _mse([r["final_loss"] for r in results]))


def _named_loss(result: dict, text: str) -> str:
    """``text`` (a loss) as it goes into a table: marked as LEWEL's own for a LEWEL result."""
    return f"(LEWEL loss {text})" if result.get("method") == "lewel" else text


def _oracle(results: list[dict], key: str) -> str:
    """mean ± se of an oracle loss, with its own n when fewer seeds than the cell have it."""
    values = [r[key] for r in results if r.get(key) is not None]
    n = f" (n={len(values)})" if values and len(values) < len(results) else ""
    return _mse(values) + n


def trunk_report(trunk: str, data: str | None = None, n_train: int = 2000,
                 ceiling_steps: int = 1500, device="cpu") -> dict:
    """What a frozen trunk offers a map, on the study's held-out images: kNN top-1 of its GAP
    features (bank: the first ``n_train`` training images), the pooled AUROC of its
    channel-sum map, and the supervised ceiling of SCD's map architecture on it (the trunk
    and the ceiling's training on ``device``)."""
    net, cfg, (train, test) = _trunk_and_data(trunk, data, 0, device)
    eval_input = build_augment(cfg.data).eval_input
    transform = lambda x: eval_input(x.to(device))  # noqa: E731
    train = train.subset(torch.arange(min(n_train, len(train))))
    held = test.subset(torch.arange(min(HELD, len(test))))
    f_train = feature_maps(net, train.images, transform)  # (N, C, h, w)
    f_held = feature_maps(net, held.images, transform)
    knn = knn_top1(f_held.mean((2, 3)), held.labels, f_train.mean((2, 3)), train.labels,
                   ks=(20,))[20]
    ceiling = supervised_map_ceiling(f_train.to(device), train.masks, f_held.to(device),
                                     held.masks, steps=ceiling_steps)["test_auroc"]
    return {"trunk": trunk, "data": data or ("default" if trunk == "random" else "own"),
            "knn_top1": knn, "channel_sum_auroc": auroc(channel_sum_map(f_held), held.masks),
            "ceiling_auroc": ceiling}


TRUNK_COLUMNS = ("trunk", "data", "kNN top-1", "channel-sum AUROC", "ceiling AUROC")


def trunks_markdown(rows: list[dict]) -> str:
    """The table of ``trunk_report`` rows."""
    return table_markdown([{"trunk": r["trunk"], "data": r["data"],
                            "kNN top-1": f"{r['knn_top1']:.3f}",
                            "channel-sum AUROC": f"{r['channel_sum_auroc']:.3f}",
                            "ceiling AUROC": f"{r['ceiling_auroc']:.3f}"} for r in rows],
                          TRUNK_COLUMNS)


def read_cells(root) -> dict[str, list[dict]]:
    """Every cell under ``root`` with at least one finished seed: {cell name: [per-seed
    results]}, cells and seeds in name order."""
    root = Path(root)
    cells = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    def seed_of(p: Path) -> int:
        return int(p.stem[4:]) if p.stem[4:].isdigit() else 1 << 30

    return {c.name: [json.loads(p.read_text()) for p in sorted(c.glob("seed*.json"), key=seed_of)]
            for c in cells if any(c.glob("seed*.json"))}


def held_examples(trunk: str, data: str, n: int = 8):
    """The first ``n`` held-out images and masks of a cell's data (no trunk is loaded)."""
    if trunk == "random":  # as _trunk_and_data builds it
        cfg = resolve(apply_overrides(get_preset("cpu"), DATA[data if data in DATA else "default"]))
    else:  # the run's data, with the named data's overrides if any
        cfg = RunDir(trunk).config()
        if data in DATA:
            cfg = apply_overrides(cfg, DATA[data])
    test = build_data(cfg.data)[1]
    return test.images[:n], test.masks[:n]
