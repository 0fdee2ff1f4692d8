"""Serving: endpoints (a control plane here, data-plane worker processes) and the model
loading both they and batch transform use."""
