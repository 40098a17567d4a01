"""Write configs/<preset>.yaml from scd_lab.config.PRESETS (tests fail when they are stale)."""
from pathlib import Path

from scd_lab.config import PRESETS, get_preset, save_yaml

out = Path(__file__).resolve().parents[1] / "configs"
out.mkdir(exist_ok=True)
for name in PRESETS:
    save_yaml(get_preset(name), out / f"{name}.yaml")
    print(out / f"{name}.yaml")
