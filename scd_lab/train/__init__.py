"""Training: the method-agnostic trainer, checkpoints, the run directory and callbacks."""
from .callbacks import Callback, KNNMonitor, PeriodicMonitor, SaliencyMonitor
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .optim import LARS, build_optimizer, cosine_lr, param_groups
from .rundir import RunDir
from .trainer import Trainer, TrainingDiverged, format_summary, seed_for

__all__ = ["Trainer", "TrainingDiverged", "format_summary", "RunDir", "Callback", "KNNMonitor",
           "SaliencyMonitor", "PeriodicMonitor", "CheckpointError", "load_checkpoint",
           "save_checkpoint", "LARS", "build_optimizer", "cosine_lr", "param_groups", "seed_for"]
