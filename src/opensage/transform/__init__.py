"""Batch transform: predictions of a registered model over a dataset or files (TransformJob)."""
