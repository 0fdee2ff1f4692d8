"""A model loaded for serving: a built-in's (by its manifest) or one with its own
SageMaker-style inference code (``code/inference.py``: ``model_fn``, and optionally
``input_fn``, ``predict_fn``, ``output_fn``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from opensage.algorithms import get_algorithm
from opensage.algorithms.base import MANIFEST, read_manifest

INFERENCE_CODE = Path("code") / "inference.py"


class ServedModel:
    """Predictions for rows of features (and, for custom code, for raw bodies)."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.code: ModuleType | None = None
        self.feature_names: list[str] | None = None
        if (model_dir / INFERENCE_CODE).is_file():
            self.code = _import(model_dir / INFERENCE_CODE)
            if not hasattr(self.code, "model_fn"):
                raise ValueError(f"{INFERENCE_CODE} defines no model_fn(model_dir)")
            self._model = self.code.model_fn(str(model_dir))
            if (model_dir / MANIFEST).is_file():
                self.feature_names = list(read_manifest(model_dir).get("feature_names") or [])
            return
        if not (model_dir / MANIFEST).is_file():
            raise ValueError(f"the model has neither {MANIFEST} nor {INFERENCE_CODE}")
        manifest = read_manifest(model_dir)
        self.algorithm = get_algorithm(str(manifest["algorithm"]))
        self.feature_names = list(manifest.get("feature_names") or []) or None
        self._model = self.algorithm.load(model_dir)

    @property
    def batchable(self) -> bool:
        """Whether requests can be stacked into one predict call (built-ins, or custom code
        without its own input/output functions)."""
        return self.code is None or not (
            hasattr(self.code, "input_fn") or hasattr(self.code, "output_fn")
        )

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions for a 2-D float array."""
        if self.code is not None:
            predict_fn = getattr(self.code, "predict_fn", None)
            result = (
                predict_fn(features, self._model) if predict_fn else self._model.predict(features)
            )
            return np.asarray(result)
        return np.asarray(self.algorithm.predict(self._model, features))

    def invoke_custom(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """A whole request through the model's own input_fn / predict_fn / output_fn."""
        assert self.code is not None
        data: Any = self.code.input_fn(body, content_type)
        predict_fn = getattr(self.code, "predict_fn", None)
        prediction = predict_fn(data, self._model) if predict_fn else self._model.predict(data)
        output_fn = getattr(self.code, "output_fn", None)
        if output_fn is None:
            from opensage.serving.payloads import render

            return render(np.asarray(prediction), accept), accept
        result = output_fn(prediction, accept)
        if isinstance(result, tuple):
            payload, kind = result
        else:
            payload, kind = result, accept
        return (payload.encode() if isinstance(payload, str) else bytes(payload)), str(kind)


def _import(path: Path) -> ModuleType:
    name = f"opensage_inference_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module
