"""The seed's example: AWS Certified Cloud Practitioner exam scores of 10,000 students.

Features: years of IT experience, years of AWS experience, hours spent on the course and
practice tests taken; label: the exam score (100-1000, pass mark 700). The relation is
non-linear with diminishing returns and noise, so a model has something real to learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["it_experience_years", "aws_experience_years", "study_hours", "practice_tests"]
LABEL = "exam_score"


def expected_score(
    it_years: np.ndarray, aws_years: np.ndarray, hours: np.ndarray, tests: np.ndarray
) -> np.ndarray:
    """The noise-free score: saturating returns on study, experience and practice."""
    study = 260 * (1 - np.exp(-hours / 45))
    aws = 110 * np.log1p(aws_years)
    it = 45 * np.sqrt(it_years)
    practice = 140 * (1 - np.exp(-tests / 4))
    synergy = 0.6 * np.minimum(hours, 120) * np.minimum(aws_years, 3) / 3
    return 200 + study + aws + it + practice + synergy


def make_students(n: int = 10_000, seed: int = 7) -> pd.DataFrame:
    """``n`` students with their exam score; the same seed gives the same table."""
    rng = np.random.default_rng(seed)
    it_years = np.round(rng.gamma(shape=2.0, scale=2.5, size=n).clip(0, 30), 1)
    aws_years = np.round((it_years * rng.beta(1.5, 4.0, size=n)).clip(0, 12), 1)
    hours = np.round(rng.lognormal(mean=3.3, sigma=0.6, size=n).clip(1, 200), 1)
    tests = rng.poisson(lam=np.clip(hours / 12, 0.5, 12)).clip(0, 20)
    noise = rng.normal(0, 45, size=n)
    score = np.clip(np.round(expected_score(it_years, aws_years, hours, tests) + noise), 100, 1000)
    return pd.DataFrame(
        {
            "it_experience_years": it_years,
            "aws_experience_years": aws_years,
            "study_hours": hours,
            "practice_tests": tests.astype(np.int64),
            LABEL: score.astype(np.int64),
        }
    )


def write_csv(path: Path, n: int = 10_000, seed: int = 7) -> Path:
    """Write the students table as CSV (with a header) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make_students(n, seed).to_csv(path, index=False)
    return path
