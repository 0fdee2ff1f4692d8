"""Hyperparameter tuning: searches whose trials are ordinary training jobs."""
