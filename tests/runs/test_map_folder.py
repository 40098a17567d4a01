"""``scd-lab eval maps``: a folder of maps scored by the papers' protocols, through
``python -m scd_lab.cli``; a bad folder is one line on stderr and exit status 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scd_lab.runs import EvalError
from scd_lab.runs.map_folder import evaluate_map_folder, parse_protocols

ROOT = Path(__file__).parents[2]


def _folder(tmp_path: Path, n: int = 3) -> tuple[Path, Path, Path]:
    """n 32x32 images, masks (a 12x14 box) and their maps: perfect 8x8 .npy maps and one
    grey PNG at the image size."""
    dirs = [tmp_path / d for d in ("images", "masks", "maps")]
    for d in dirs:
        d.mkdir()
    for i in range(n):
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 12:26] = 255
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(dirs[0] / f"im{i}.jpg")
        Image.fromarray(mask).save(dirs[1] / f"im{i}.png")
        if i == 0:
            Image.fromarray(mask).save(dirs[2] / f"im{i}.png")
        else:
            np.save(dirs[2] / f"im{i}.npy", mask[::4, ::4] / 255.0)
    return tuple(dirs)


def _cli(*words):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH",
                                                                              "")}
    return subprocess.run([sys.executable, "-m", "scd_lab.cli", "eval", "maps", *map(str, words)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_eval_maps_json(tmp_path):
    images, masks, maps = _folder(tmp_path)
    r = _cli("--images", images, "--masks", masks, "--maps", maps, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == ["pxap", "maxboxacc_v2", "dino_jaccard", "corloc"]
    assert out["pxap"] > 0.9 and out["corloc"] == 1.0
    assert out == pytest.approx(evaluate_map_folder(images, masks, maps)["protocols"])


def test_eval_maps_table_and_protocol_choice(tmp_path):
    images, masks, maps = _folder(tmp_path)
    r = _cli("--images", images, "--masks", masks, "--maps", maps, "--protocol", "pxap,corloc")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("| protocol | value |") and "| corloc | 1.000 |" in r.stdout
    assert "maxboxacc" not in r.stdout


def _one_error_line(r) -> str:
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scd-lab: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_a_corrupt_image_and_a_missing_mask_fail_in_one_line(tmp_path):
    images, masks, maps = _folder(tmp_path)
    (images / "im1.jpg").write_bytes(b"not a jpeg")  # corrupt
    (masks / "im2.png").unlink()  # missing mask
    line = _one_error_line(_cli("--images", images, "--masks", masks, "--maps", maps))
    assert "im1.jpg" in line and "unreadable image" in line and "fix or remove" in line


def test_a_missing_mask_names_it(tmp_path):
    images, masks, maps = _folder(tmp_path)
    (masks / "im2.png").unlink()
    line = _one_error_line(_cli("--images", images, "--masks", masks, "--maps", maps))
    assert "im2.jpg" in line and "no mask im2.png" in line


@pytest.mark.parametrize("name, content, says", [
    ("im1.npy", b"garbage", "unreadable map"),
    ("im1.npy", None, "shape (2, 3, 4)"),
    ("im0.png", b"not a png", "unreadable map"),
])
def test_a_bad_map_fails_in_one_line(tmp_path, name, content, says):
    images, masks, maps = _folder(tmp_path)
    if content is None:
        np.save(maps / name, np.zeros((2, 3, 4)))
    else:
        (maps / name).write_bytes(content)
    line = _one_error_line(_cli("--images", images, "--masks", masks, "--maps", maps))
    assert name in line and says in line and "named like its image" in line


def test_a_missing_map_and_bad_options(tmp_path):
    images, masks, maps = _folder(tmp_path)
    (maps / "im2.npy").unlink()
    with pytest.raises(EvalError, match="no map for image 'im2'"):
        evaluate_map_folder(images, masks, maps)
    with pytest.raises(EvalError, match="is not a folder"):
        evaluate_map_folder(images, masks, tmp_path / "nowhere")
    with pytest.raises(EvalError, match="unknown nope"):
        parse_protocols("pxap,nope")
    assert parse_protocols("boxacc@70") == ("boxacc@70",)


def test_eval_maps_of_a_runs_last_snapshot(tmp_path):
    """``--run``: every map of a run's last snapshot against its probe masks, no checkpoint
    needed (a shipped reference run), the same numbers as the protocols called directly."""
    import torch

    from scd_lab.eval.map_protocols import map_protocols
    from scd_lab.eval.saliency_metrics import upsample_maps
    from scd_lab.paths import reference_runs_dir
    from scd_lab.runs import Run
    from scd_lab.runs.map_folder import evaluate_snapshot_maps

    run = reference_runs_dir() / "demo-scd-byol"
    res = evaluate_snapshot_maps(run, size=32)
    assert list(res["maps"]) == ["scd_fg", "channel_sum"] and res["size"] == 32
    opened = Run.open(run)
    masks = torch.nn.functional.interpolate(opened.masks[:, None].float(), size=(32, 32),
                                            mode="nearest")[:, 0] > 0.5  # nearest, as the verb
    want = map_protocols(upsample_maps(opened.snapshots[-1]["maps"]["scd_fg"].float(), 32), masks)
    assert res["maps"]["scd_fg"] == pytest.approx(want)
    ok = _cli("--run", run, "--size", "32", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["scd_fg"] == pytest.approx(want)
    both = _cli("--run", run, "--maps", tmp_path)
    assert both.returncode == 2 and both.stderr.count("\n") == 1 and "not both" in both.stderr
    empty = _cli("--run", tmp_path)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1
