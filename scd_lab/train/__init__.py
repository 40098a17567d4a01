"""Training: the method-agnostic trainer, checkpoints, the optimizers and the callbacks."""
from .callbacks import Callback, KNNMonitor, PeriodicMonitor, SaliencyMonitor
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .optim import LARS, build_optimizer, param_groups
from .summary import SMOKE_STEPS, smoke_note
from .trainer import Trainer, TrainingDiverged, format_summary

__all__ = ["Trainer", "TrainingDiverged", "format_summary", "smoke_note", "SMOKE_STEPS",
           "Callback", "KNNMonitor", "SaliencyMonitor", "PeriodicMonitor", "CheckpointError", "load_checkpoint",
           "save_checkpoint", "LARS", "build_optimizer", "param_groups"]
