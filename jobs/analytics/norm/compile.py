"""Compiles synthetic strain readings per sensor into one CSV."""

import csv
import random

from norm import data_dir

rng = random.Random(7)
out = data_dir() / "readings.csv"
with out.open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sensor", "strain"])
    for sensor in range(20):
        offset = rng.uniform(-5, 5)
        for _ in range(50):
            writer.writerow([sensor, f"{offset + rng.gauss(100, 3):.3f}"])
print(f"compiled 1000 readings from 20 sensors into {out}")
