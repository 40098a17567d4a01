"""configs/*.yaml are the presets, written by scripts/write_configs.py: never stale."""
from pathlib import Path

import pytest

from scd_lab.config import PRESETS, get_preset, load_yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", list(PRESETS))
def test_config_file_matches_preset(name):
    path = CONFIGS / f"{name}.yaml"
    assert path.is_file(), f"{path} missing: run python scripts/write_configs.py"
    assert load_yaml(path) == get_preset(name), f"{path} is stale: run scripts/write_configs.py"
