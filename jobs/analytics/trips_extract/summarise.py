"""The trips-extract example's summary: reads the CSV `extract` (pg_to_csv) wrote, and
publishes the trip count and the mean fare as the task's result."""

import csv
import json
import os
from pathlib import Path


def main() -> None:
    source = Path(os.environ["AIRFLOW_PLATFORM_INPUT_DIR"]) / "extract" / "trips.csv"
    with source.open(newline="", encoding="utf-8") as file:
        fares = [float(row["fare"]) for row in csv.DictReader(file)]
    summary = {"trips": len(fares), "mean_fare": round(sum(fares) / len(fares), 2) if fares else 0}
    output = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"])
    (output / "result.json").write_text(json.dumps(summary), encoding="utf-8")
    print(f"{summary['trips']} trips, mean fare {summary['mean_fare']}")


if __name__ == "__main__":
    main()
