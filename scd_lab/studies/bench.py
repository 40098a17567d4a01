"""``scd-lab bench``: what a training step of each method costs on this device.

For each method, on random uint8 images held in memory (the kit's data path, no decoding):

* images/s and the step split into its phases: augmentation (``Trainer.views``), forward,
  backward, optimizer, EMA (+ MoCo's enqueue), the trainer's own phase calls
  (``Trainer.forward``, ``backward``, ``optimizer_step``, ``update_targets``, what
  ``Trainer.train_step`` calls), each timed with a device synchronisation after it;
* peak memory: CUDA ``max_memory_allocated`` per step; on the CPU the resident-set peak of a
  fresh process running only that method (``resource.getrusage``), and its growth over the
  process after building (the step's own memory, roughly);
* model FLOPs per image, counted by ``torch.utils.flop_counter.FlopCounterMode`` on one
  forward + backward (an "image" is one pair of views; the target network's forward counts),
  and the achieved fraction of the device's dense bf16 peak (a small table; "n/a" on the CPU);
* the ratio of each method's step to its base's (scd-byol/byol, scd-moco/moco,
  lewel-byol/byol and lewel-byol/byol-2x, the symmetric BYOL), measured **interleaved** in one
  process: every round runs one step of every method (the order rotates each round), and the
  ratio is taken per round, then its median and inter-quartile range over the rounds, so that
  a neighbour's load on a shared machine hits both sides of a ratio alike;
* lightly's BYOL (same trunk, heads and views; ``studies.lightly_byol``) when ``lightly`` is
  importable, timed in the same phases;
* ``NAME+compile`` (e.g. ``byol+compile``): the method with ``train.compile=true``, in the same
  rounds, with its ratio to ``NAME`` (compile on / off);
* with ``decode``, the decode headroom of the streaming path (``studies.decode_bench``):
  JPEGs decoded per second at the stored size over the first method's training images/s;
* a summary: every ratio, augmentation share and fraction of peak, with the device's name.

    scd-lab bench --preset cpu --size 32 --batch 64 --rounds 20 --json bench.json
    python -m scd_lab.cli bench ...                           # the same
    from scd_lab.studies.bench import run_bench, format_markdown
    print(format_markdown(run_bench(["byol", "scd-byol"], rounds=5)))
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..config import apply_overrides, get_preset, resolve
from ..data.arrays import ImageArray
from ..runs.build import build_run
from .bench_report import PHASE_TITLES, PHASES, format_markdown, summary_rows  # noqa: F401
from .decode_bench import decode_headroom
from .lightly_byol import LightlyBYOL

DEFAULT_METHODS = ("byol", "scd-byol", "moco", "scd-moco", "lewel-byol")
SYMMETRIC_BYOL = "byol-2x"  # BYOL with method.symmetric=true, LEWEL-BYOL's fair base
PAIRS = (("scd-byol", "byol"), ("scd-moco", "moco"), ("lewel-byol", "byol"),
         ("lewel-byol", SYMMETRIC_BYOL), ("lightly-byol", "byol"))
#: dense bf16 tensor-core peaks, TFLOP/s (vendor data sheets; SXM parts). Matched in order.
PEAK_BF16_TFLOPS = (("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0),
                    ("A100", 312.0))


def device_peak_tflops(device: torch.device) -> float | None:
    """The dense bf16 peak of a CUDA device from ``PEAK_BF16_TFLOPS``; ``None`` if unknown or
    on the CPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_BF16_TFLOPS:
        if key in name:
            return peak
    return None


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    try:
        load = "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        load = "load n/a"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (f"CPU {cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {load}")


# --------------------------------------------------------------------------------------------
def bench_config(method: str, preset: str = "cpu", size: int = 32, batch: int = 64,
                 overrides=()):
    """The config a bench entry trains: the preset at ``size``-pixel views, batch ``batch``,
    no monitors. ``byol-2x`` is BYOL with the symmetric loss; ``NAME+compile`` is ``NAME`` with
    ``train.compile=true``."""
    method, plus = method.split("+", 1) if "+" in method else (method, "")
    name, extra = (("byol", ["method.symmetric=true"]) if method == SYMMETRIC_BYOL
                   else (method, []))
    extra += ["train.compile=true"] if plus == "compile" else []
    base = get_preset(preset)
    stored = max(size, round(base.data.image_size * size / base.data.crop_size))
    return apply_overrides(base, [
        f"method.name={name}", *extra, "data.dataset=synthetic", "data.root=null",
        f"data.image_size={stored}", f"data.crop_size={size}",
        f"train.batch_size={batch}", "train.max_steps=1000000", "train.knn_every=0",
        "train.snapshot_every=0", "train.progress=false", "train.num_workers=0",
        "train.ckpt_every=0", *overrides])


def random_data(cfg, num_images: int | None = None, seed: int = 0):
    """(train, test) ``ImageArray`` of random uint8 images at the config's stored size, enough
    for MoCo's queue and a few epochs."""
    n = num_images or max(4 * cfg.train.batch_size, cfg.method.queue_size or 0)
    s = cfg.data.image_size
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    names = [str(i) for i in range(10)]
    return (ImageArray(images, labels, None, names),
            ImageArray(images[:64].clone(), labels[:64].clone(), None, names))


def build_trainer(method: str, data=None, device: str | None = None, **kw):
    cfg = resolve(bench_config(method, **kw))
    data = data if data is not None else random_data(cfg)
    return build_run(cfg, None, data=data, device=device)


def _sync(device: torch.device):
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _call(fn, *args):
    return fn(*args)


def run_phases(tr, step: int, call=_call):
    """One training step of ``tr`` made of its phases, in ``Trainer.train_step``'s order after
    ``views``: each goes through ``call(phase, *args)`` (``timed_step`` times them); returns the
    ``StepOutput``. ``tr`` is a ``Trainer`` or has its phases (``LightlyBYOL``)."""
    x1, x2 = call(tr.views, step)
    out = call(tr.forward, x1, x2, step)
    call(tr.backward, out)
    call(tr.optimizer_step, step)
    call(tr.update_targets, out, step)
    return out


class _Laps:
    """Calls one after another, each timed to the device synchronisation after it (seconds)."""

    def __init__(self, device: torch.device):
        self.sync, self.times = _sync(device), []
        self.last = time.perf_counter()

    def __call__(self, fn, *args):
        result = fn(*args)
        self.sync()
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now
        return result


def timed_step(tr, step: int) -> tuple[dict[str, float], object]:
    """One training step of ``tr`` (``run_phases``) with each of the ``PHASES`` timed
    (seconds), a synchronisation after each; returns the times and the ``StepOutput``."""
    laps = _Laps(tr.device)
    out = run_phases(tr, step, laps)
    return dict(zip(PHASES, laps.times)), out


def count_flops(tr, step: int = 0) -> float:
    """FLOPs of one forward + backward of the method on a batch of views (all matmuls and
    convolutions, target network included), counted by ``FlopCounterMode`` over the trainer's
    ``forward`` and ``backward`` phases (the gradients are dropped after)."""
    x1, x2 = tr.views(step)
    counter = FlopCounterMode(display=False)
    with counter:
        tr.backward(tr.forward(x1, x2, step))
    tr.optimizer.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


def _stats(values: list[float]) -> dict:
    lo, med, hi = _quartiles(values)
    return {"median": med, "q1": lo, "q3": hi, "iqr": hi - lo, "min": min(values),
            "n": len(values)}


# --------------------------------------------------------------------------------------------
def _peak_rss_mib() -> float:
    """This process's resident-set peak: ``VmHWM`` (Linux; ``ru_maxrss`` survives fork + exec
    there, so a child would report its parent's peak), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration, ValueError):
        import resource
        scale = 2**20 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _cpu_memory_child(method: str, kw: dict, steps: int) -> dict:
    """In a fresh process: peak RSS after building, and after ``steps`` steps (MiB)."""
    tr = build_trainer(method, **kw)
    before = _peak_rss_mib()
    for s in range(steps):
        timed_step(tr, s)
    after = _peak_rss_mib()
    return {"peak_rss_mib": after, "step_rss_mib": max(after - before, 0.0)}


def cpu_memory(method: str, kw: dict, steps: int = 2, timeout: float = 300) -> dict:
    """``_cpu_memory_child`` in a subprocess (a resident-set peak is per process)."""
    code = ("import json, sys; from scd_lab.studies.bench import _cpu_memory_child; "
            f"print('RESULT', json.dumps(_cpu_memory_child({method!r}, {kw!r}, {steps})))")
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=timeout, env=os.environ.copy())
        line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")][-1]
        return json.loads(line[7:])
    except (subprocess.SubprocessError, IndexError, ValueError) as exc:
        return {"error": f"memory probe failed: {type(exc).__name__}"}


# --------------------------------------------------------------------------------------------
def run_bench(methods=DEFAULT_METHODS, preset: str = "cpu", size: int = 32, batch: int = 64,
              rounds: int = 20, warmup: int = 2, device: str | None = None, overrides=(),
              memory: str = "auto", flops: bool = True, lightly: bool = True,
              decode: bool = False, progress=None) -> dict:
    """Benchmark ``methods`` interleaved on one device; returns a JSON-able dict (see the
    module docstring). ``byol-2x`` (symmetric BYOL) is added when ``lewel-byol`` is measured.

    Args:
        methods: method names (``scd_lab.methods.available_methods``) or ``byol-2x``.
        preset, size, batch, overrides: the config (``bench_config``).
        rounds: measured rounds (one step of every method each); ``warmup`` rounds first.
        memory: ``auto`` (CUDA: per step; CPU: a subprocess per method), ``process`` (the
            CPU resident-set peak of this process so far: no subprocesses), or ``off``.
        flops: count FLOPs (one extra forward + backward per method).
        lightly: also time lightly's BYOL when it is importable.
        decode: also measure the streaming path's decode headroom (``decode_headroom``).
        progress: optional callable taking a line of text.
    """
    say = progress or (lambda line: None)
    methods = list(dict.fromkeys(methods))
    if "lewel-byol" in methods and SYMMETRIC_BYOL not in methods:
        methods.append(SYMMETRIC_BYOL)
    kw = dict(preset=preset, size=size, batch=batch, overrides=tuple(overrides))
    trainers = {}
    cfgs = {m: bench_config(m, **kw) for m in methods}
    need = max([4 * batch] + [resolve(c).method.queue_size or 0 for c in cfgs.values()])
    data = random_data(resolve(cfgs[methods[0]]), num_images=need)
    for m in methods:  # one set of images for every method
        trainers[m] = build_trainer(m, data=data, device=device, **kw)
    first = trainers[methods[0]]
    dev = first.device
    notes = []
    entries: dict[str, object] = dict(trainers)
    if lightly and "byol" in trainers:
        try:
            entries["lightly-byol"] = LightlyBYOL(trainers["byol"])
        except ImportError:
            notes.append("lightly is not installed: the lightly BYOL comparison was skipped "
                         "(pip install -e '.[bench]' adds it)")
        except Exception as exc:  # an API change in lightly: report, do not fail the bench
            notes.append(f"lightly BYOL could not be built ({type(exc).__name__}: {exc}); "
                         "skipped")
    names = list(entries)
    for tr in trainers.values():
        tr.method.train()
    times = {n: {p: [] for p in PHASES} for n in names}
    totals = {n: [] for n in names}
    cpu_times = {n: [] for n in names}  # process CPU seconds per step (robust to neighbours)
    peak_mem = {n: 0.0 for n in names}
    cuda = dev.type == "cuda"
    for r in range(warmup + rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:  # rotate the order every round
            e = entries[n]
            if cuda and memory != "off":
                torch.cuda.reset_peak_memory_stats(dev)
            c0 = time.process_time()
            ph = timed_step(e, r)[0]
            c1 = time.process_time()
            if cuda and memory != "off":
                peak_mem[n] = max(peak_mem[n], torch.cuda.max_memory_allocated(dev) / 2**20)
            if r >= warmup:
                for p in PHASES:
                    times[n][p].append(ph[p])
                totals[n].append(sum(ph.values()))
                cpu_times[n].append(c1 - c0)
        if r >= warmup:
            say(f"round {r - warmup + 1}/{rounds}: " + ", ".join(
                f"{n} {1e3 * totals[n][-1]:.0f} ms" for n in names))
    for tr in trainers.values():
        tr.check_finite()

    peak = device_peak_tflops(dev)
    results = {}
    for n in names:
        tot = _stats(totals[n])
        model = [t - a for t, a in zip(totals[n], times[n]["augment"])]
        res = {"step_s": tot, "model_step_s": _stats(model),
               "cpu_step_s": _stats(cpu_times[n]),
               "images_per_s": batch / tot["median"],
               "phases_s": {p: statistics.median(times[n][p]) for p in PHASES}}
        if n in trainers and flops:
            f = count_flops(trainers[n])
            res["flops_per_image"] = f / batch
            achieved = f / statistics.median(model)  # FLOP/s of forward + backward + update
            res["achieved_tflops"] = achieved / 1e12
            res["peak_fraction"] = achieved / (peak * 1e12) if peak else None
        if cuda and memory != "off":
            res["peak_memory_mib"] = peak_mem[n]
        results[n] = res
    if not cuda and memory == "auto":
        for n in trainers:
            say(f"memory probe: {n}")
            results[n].update(cpu_memory(n, dict(kw), steps=2))
    elif not cuda and memory == "process":
        rss = _peak_rss_mib()
        notes.append(f"CPU memory: the resident-set peak of the whole process, {rss:.0f} MiB "
                     "(memory='process')")

    ratios = []
    pairs = PAIRS + tuple((n, n.split("+")[0]) for n in names if n.endswith("+compile"))
    for a, b in pairs:
        if a in totals and b in totals:
            per_round = [x / y for x, y in zip(totals[a], totals[b])]
            model_a = [t - s for t, s in zip(totals[a], times[a]["augment"])]
            model_b = [t - s for t, s in zip(totals[b], times[b]["augment"])]
            cpu = [x / y for x, y in zip(cpu_times[a], cpu_times[b])]
            ratios.append({"method": a, "base": b, "step": _stats(per_round),
                           "cpu_step": _stats(cpu),
                           "ratio_of_min_steps": min(totals[a]) / min(totals[b]),
                           "model_step": _stats([x / y for x, y in zip(model_a, model_b)]),
                           "ratio_of_medians": (statistics.median(totals[a])
                                                / statistics.median(totals[b]))})
    res = {"machine": machine_description(dev), "device": str(dev),
            "device_name": device_name(dev),
            "device_peak_bf16_tflops": peak, "preset": preset, "size": size, "batch": batch,
            "rounds": rounds, "warmup": warmup, "overrides": list(overrides),
            "precision": "bf16 autocast" if isinstance(first.autocast(), torch.autocast)
            else "fp32",
            "date": time.strftime("%Y-%m-%d %H:%M"), "methods": results, "ratios": ratios,
            "notes": notes}
    if decode:
        say("decode headroom")
        res["decode"] = decode_headroom(resolve(cfgs[methods[0]]).data.image_size, dev,
                                        results[methods[0]]["images_per_s"], batch)
    res["summary"] = summary_rows(res)
    return res


def device_name(device: torch.device) -> str:
    """The card's name on CUDA, else the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return machine_description(device).split(",")[0].removeprefix("CPU ")
