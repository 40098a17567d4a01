"""Figures and widgets over run directories."""
from .plots import default_map_name, pick_snapshots, plot_metrics, plot_saliency_evolution

__all__ = ["plot_saliency_evolution", "plot_metrics", "default_map_name", "pick_snapshots"]
