"""Model monitoring: baselines, drift and data-quality checks on captured traffic, model
quality with late labels, alerts and retraining."""
