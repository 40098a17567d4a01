"""The reference runs shipped in scd_lab/shipped/reference_runs (package data): small, no checkpoints, and readable by
the explorer and RunDir, with real evolution (snapshots from step 0 to the last epoch)."""
from __future__ import annotations

from pathlib import Path

import pytest

import scd_lab
from scd_lab.paths import reference_runs_dir, shipped_dir
from scd_lab.rundir import RunDir
from scd_lab.viz.explorer import reference_runs

ROOT = reference_runs_dir()
RUNS = reference_runs()


def test_reference_runs_are_small_and_carry_no_checkpoint():
    assert {"demo-byol", "demo-scd-byol", "demo-lewel-byol"} <= set(RUNS)
    files = [p for p in ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8 * 2**20
    assert not [p for p in files if "checkpoints" in p.parts or p.name == "last.pt"]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_each_reference_run_reads_back(name):
    rd = RunDir(RUNS[name])
    snaps = rd.snapshots()
    assert snaps and snaps[0]["maps"]
    probe = rd.probe()
    assert probe["images"].shape[0] == next(iter(snaps[0]["maps"].values())).shape[0]
    assert rd.metrics("saliency"), "every reference run has measured maps"
    if not name.startswith("ceiling-"):  # trained runs: the whole evolution from step 0
        assert snaps[0]["step"] == 0 and len(snaps) >= 7 and rd.summary()["steps"] > 0


def test_the_shipped_files_are_package_data():
    """Inside the package and named by its package data, so that a wheel carries them."""
    assert shipped_dir().parent == Path(scd_lab.__file__).resolve().parent
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"scd_lab" = ["shipped/**/*"]' in pyproject


def test_each_reference_run_opens_on_the_map_it_was_made_to_show():
    """The supervised ceiling's folder has no config: it opens on its map ``ceiling`` (AUROC
    0.891), not on the first map of its snapshots (``scd_fg``, 0.359)."""
    from scd_lab.methods import default_map_name
    from scd_lab.runs import Run
    from scd_lab.viz.explorer import ExplorerModel

    for name, path in RUNS.items():
        run = Run.open(path)
        want = "ceiling" if name.startswith("ceiling-") else default_map_name(run.cfg.method.name)
        assert run.default_map == want, name
    model = ExplorerModel(reference_runs("distinct"))
    state = model.default_state()
    assert state.maps["ceiling-distinct-zeros"] == "ceiling"
    assert model.panel(state, "ceiling-distinct-zeros").auroc == pytest.approx(0.891, abs=5e-4)
