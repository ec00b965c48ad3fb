"""Pose models: registry, evaluation metrics, promotion, training and inference jobs."""
