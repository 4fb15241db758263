"""The strain-normalization job's code (jobs/analytics/norm) is importable as ``norm``, as it
is when its steps run in the spec's folder."""

from __future__ import annotations

import sys
from pathlib import Path

JOBS = Path(__file__).resolve().parents[3] / "jobs" / "analytics"
if str(JOBS) not in sys.path:
    sys.path.insert(0, str(JOBS))
