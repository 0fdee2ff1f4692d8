"""The model registry: model groups with numbered, approvable versions."""
