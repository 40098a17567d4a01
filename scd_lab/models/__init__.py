"""Model pieces: trunks, heads, saliency network and pooling."""
from .backbone import Trunk, backbone_from_config, build_backbone
from .heads import MLP, two_batches
from .saliency import SaliencyNet, channel_sum_map, minmax_normalize, weighted_avg_pool

__all__ = ["Trunk", "build_backbone", "backbone_from_config", "MLP", "SaliencyNet",
           "weighted_avg_pool", "two_batches", "minmax_normalize", "channel_sum_map"]
