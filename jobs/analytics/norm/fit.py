"""Fits a per-sensor offset so that every sensor's mean strain matches the fleet mean."""

import csv
import json
import statistics
from collections import defaultdict

from norm import data_dir

readings: dict[str, list[float]] = defaultdict(list)
with (data_dir() / "readings.csv").open() as f:
    for row in csv.DictReader(f):
        readings[row["sensor"]].append(float(row["strain"]))
fleet = statistics.fmean(v for values in readings.values() for v in values)
model = {sensor: fleet - statistics.fmean(values) for sensor, values in readings.items()}
(data_dir() / "model.json").write_text(json.dumps({"fleet_mean": fleet, "offsets": model}))
print(f"fitted offsets for {len(model)} sensors; fleet mean strain {fleet:.3f}")
