"""Class probabilities of scikit-learn classifiers, in the platform's layout.

Binary: the positive class's probability, shape ``(n,)``. Multiclass: one column per
class index ``0 .. k-1`` (``(n, k)``), including classes the training data happened to
lack, so column ``j`` always means the manifest's ``classes[j]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def class_probabilities(classifier: Any, features: np.ndarray, num_classes: int) -> np.ndarray:
    """``classifier.predict_proba`` laid out for ``num_classes`` classes (see module doc)."""
    proba = np.asarray(classifier.predict_proba(features), dtype=np.float64)
    full = np.zeros((proba.shape[0], num_classes))
    full[:, np.asarray(classifier.classes_, dtype=np.int64)] = proba
    return full[:, 1] if num_classes == 2 else full
