"""Training: the method-agnostic trainer, checkpoints, the run directory and callbacks."""
from .callbacks import Callback, KNNMonitor, SaliencyMonitor
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .optim import LARS, build_optimizer, cosine_lr, param_groups
from .rundir import RunDir
from .trainer import Trainer, TrainingDiverged, format_summary

__all__ = ["Trainer", "TrainingDiverged", "format_summary", "RunDir", "Callback", "KNNMonitor",
           "SaliencyMonitor", "CheckpointError", "load_checkpoint", "save_checkpoint", "LARS",
           "build_optimizer", "cosine_lr", "param_groups"]
