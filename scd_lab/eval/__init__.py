"""Evaluation: kNN, saliency metrics against masks."""
