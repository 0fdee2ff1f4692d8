"""Datasets: immutable, versioned Parquet data with schema, splits and statistics."""
