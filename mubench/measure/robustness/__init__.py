"""Denoising quality at matched noise levels: conditions, metrics, weights, and the run."""
