"""Marks readings compiled before the new model as superseded."""

import json

from norm import data_dir

model = json.loads((data_dir() / "model.json").read_text())
marker = data_dir() / "superseded.json"
marker.write_text(json.dumps({"superseded_by_fleet_mean": model["fleet_mean"]}))
print(f"invalidated prior normalized data; {len(model['offsets'])} sensors re-based")
