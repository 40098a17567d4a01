"""The bench's tables: per method, per ratio, and the summary (``studies.bench``'s result)."""
from __future__ import annotations

from ..tables import table_markdown

#: the phases of a step, in order: ``Trainer.views``, ``forward``, ``backward``,
#: ``optimizer_step`` and ``update_targets`` (the EMA and MoCo's enqueue)
PHASES = ("augment", "forward", "backward", "optimizer", "ema")
PHASE_TITLES = ("augment", "forward", "backward", "optimizer", "EMA+enqueue")  # table columns


def summary_rows(res: dict) -> list[dict]:
    """Every ratio the bench measures, one row each, with the device's name."""
    dev, rows = res["device_name"], []
    for q in res["ratios"]:
        rows.append({"quantity": f"{q['method']} / {q['base']} (whole step, median)",
                     "value": f"{q['step']['median']:.2f}", "device": dev})
    for n, r in res["methods"].items():
        share = r["phases_s"]["augment"] / max(sum(r["phases_s"].values()), 1e-12)
        rows.append({"quantity": f"{n}: augmentation share of the step",
                     "value": f"{100 * share:.1f}%", "device": dev})
        if r.get("peak_fraction") is not None:
            rows.append({"quantity": f"{n}: % of dense bf16 peak",
                         "value": f"{100 * r['peak_fraction']:.1f}%", "device": dev})
    if "decode" in res:
        d = res["decode"]
        rows.append({"quantity": f"decode headroom at {d['size']} px, {d['device']} decoder "
                                 "(decoded / trained img/s)",
                     "value": f"{d['device_headroom']:.2f}", "device": dev})
        rows.append({"quantity": f"decode headroom at {d['size']} px, PIL, one worker per core",
                     "value": f"{d['pil_headroom_all_cores']:.2f}", "device": dev})
    return rows


def _method_row(name: str, r: dict) -> dict:
    """One method's row of the bench's first table (column -> text)."""
    s, ph = r["step_s"], r["phases_s"]
    if "peak_memory_mib" in r:
        mem = f"{r['peak_memory_mib']:.0f}"
    elif "peak_rss_mib" in r:
        mem = f"{r['peak_rss_mib']:.0f} RSS (+{r['step_rss_mib']:.0f} in steps)"
    else:
        mem = "n/a"
    return {"method": name, "images/s": f"{r['images_per_s']:.0f}",
            "step ms [IQR]": f"{1e3 * s['median']:.0f} [{1e3 * s['q1']:.0f}-{1e3 * s['q3']:.0f}]",
            "min step ms": f"{1e3 * s['min']:.0f}",
            "CPU s/step": f"{r['cpu_step_s']['median']:.2f}",
            **{title: f"{1e3 * ph[p]:.1f}" for p, title in zip(PHASES, PHASE_TITLES)},
            "peak memory MiB": mem,
            "GFLOP/image": (f"{r['flops_per_image'] / 1e9:.3f}" if "flops_per_image" in r
                            else "n/a"),
            "TFLOP/s": f"{r['achieved_tflops']:.3f}" if "achieved_tflops" in r else "n/a",
            "% of peak": (f"{100 * r['peak_fraction']:.1f}%" if r.get("peak_fraction") is not None
                          else "n/a")}


def _ratio_row(q: dict) -> dict:
    """One ratio's row of the bench's second table."""
    iqr = lambda d: f"{d['median']:.2f} [{d['q1']:.2f}-{d['q3']:.2f}]"  # noqa: E731
    return {"ratio": f"{q['method']} / {q['base']}",
            "whole step: median [IQR]": iqr(q["step"]),
            "model step (no augmentation): median [IQR]": iqr(q["model_step"]),
            "process CPU time: median [IQR]": iqr(q["cpu_step"]),
            "ratio of median steps": f"{q['ratio_of_medians']:.2f}",
            "ratio of fastest steps": f"{q['ratio_of_min_steps']:.2f}"}


def format_markdown(res: dict) -> str:
    """The result of ``run_bench`` as two Markdown tables (per method; ratios) and notes."""
    text = (f"Machine: {res['machine']}. Preset `{res['preset']}`, {res['size']} px views, "
            f"batch {res['batch']}, {res['precision']}, {res['rounds']} interleaved rounds "
            f"(+{res['warmup']} warm-up). Times: medians over rounds, ms per step.\n\n"
            + table_markdown([_method_row(n, r) for n, r in res["methods"].items()]))
    if res["ratios"]:
        text += "\n" + table_markdown([_ratio_row(q) for q in res["ratios"]])
    if res.get("summary"):
        text += "\n" + table_markdown(res["summary"])
    return (text + "".join(f"\nNote: {note}\n" for note in res["notes"])).rstrip("\n")
