"""Cleans the day's trips: drops rows without a distance, keeps the rest as trips.csv."""

import csv
import os
import sys
from pathlib import Path

source = Path(sys.argv[1])
out = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"]) / "trips.csv"
with source.open() as src, out.open("w", newline="") as dst:
    rows = [row for row in csv.DictReader(src) if row.get("distance_km")]
    writer = csv.DictWriter(dst, fieldnames=list(rows[0]) if rows else ["distance_km"])
    writer.writeheader()
    writer.writerows(rows)
print(f"kept {len(rows)} trips")
