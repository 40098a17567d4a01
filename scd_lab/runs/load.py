"""A saved run, loaded in one call: ``load_run(path)`` gives its config, the trained method
(eval mode), its data and its probe images."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import Config
from ..errors import RunError
from ..eval.features import embed, method_maps
from ..methods import build_method
from ..rundir import RunDir
from ..train.checkpoint import load_checkpoint
from .build import build_augment, build_data, monitor_sets


@dataclass
class Run:
    """A loaded run: what ``load_run`` returns.

    cfg: the resolved config. method: the trained method, in eval mode, on ``device``.
    step, epoch: where its checkpoint stands. augment: its augmentation (``eval_input`` is
    the test-time transform). train, test: its data (``None`` with ``with_data=False``).
    probe: the probe images, labels and masks the monitors snapshotted. rundir: its files.
    """

    path: Path
    cfg: Config
    method: torch.nn.Module
    step: int
    epoch: float
    augment: object
    device: torch.device
    train: object
    test: object
    probe: dict
    rundir: RunDir

    def eval_input(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment.eval_input(images.to(self.device))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """GAP features of uint8 images (N, 3, H, W) -> (N, C)."""
        return embed(self.method.features, images, self.eval_input)

    def maps(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named map of uint8 images: {name: (N, h, w)}."""
        return method_maps(self.method, images, self.eval_input)

    def monitor_sets(self) -> dict:
        """The images the run's monitors used (``scd_lab.runs.build.monitor_sets``)."""
        if self.train is None:
            raise RunError("this run was loaded with with_data=False")
        return monitor_sets(self.cfg, self.train, self.test)


def load_run(run_dir, device: str | None = None, with_data: bool = True) -> Run:
    """The config, the trained method (eval mode), the data and the probe of a run, in one call.

    Raises:
        RunError / CheckpointError: no run there, or no checkpoint yet (the message says how
            to make one).
    """
    rundir = RunDir(run_dir)
    cfg = rundir.config()
    if not rundir.last_checkpoint.exists():
        raise RunError(f"{str(run_dir)!r} has no checkpoint yet (a run writes one at the end of "
                       f"each epoch); let it train, or resume it with "
                       f"`scd-lab train --resume {run_dir}`")
    ckpt = load_checkpoint(rundir.last_checkpoint)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    head = ckpt["model"].get("head.weight")  # the supervised reference's classifier
    method = build_method(cfg, num_classes=None if head is None else head.shape[0])
    method.load_state_dict(ckpt["model"])
    method.to(dev).eval()
    train = test = None
    if with_data:
        train, test = build_data(cfg.data, cfg.train.num_workers)
    probe = rundir.probe() if (rundir.path / "probe.pt").is_file() else {}
    return Run(rundir.path, cfg, method, int(ckpt["step"]), float(ckpt["epoch"]),
               build_augment(cfg.data), dev, train, test, probe, rundir)
