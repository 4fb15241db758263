"""Strain normalization: compile raw strain readings, fit a normalization, retire old data."""

import os
from pathlib import Path


def data_dir() -> Path:
    path = Path(os.environ.get("NORM_DATA_DIR", "norm-data"))
    path.mkdir(parents=True, exist_ok=True)
    return path
