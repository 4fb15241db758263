"""Writes report.txt once the cleaned trips are updated (the pipeline's asset schedule)."""

import os
from pathlib import Path

out = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"]) / "report.txt"
out.write_text("fresh trips cleaned; report regenerated\n")
print(out.read_text().strip())
