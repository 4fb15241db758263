"""The lr-sweep example's code: `train` fits a small logistic regression with the
combination's $LR and $DEPTH (epochs); `pick` reads every combination's metrics from
$AIRFLOW_PLATFORM_INPUT_DIR/train/ and keeps the best."""

import json
import math
import os
import random
import sys
from pathlib import Path


def _data(seed: int, n: int) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append((x1, x2, int(x1 + 0.5 * x2 + rng.gauss(0, 0.5) > 0)))
    return rows


def train() -> None:
    lr, epochs = float(os.environ["LR"]), int(os.environ["DEPTH"])
    w1 = w2 = b = 0.0
    for _ in range(epochs):
        for x1, x2, y in _data(1, 400):
            p = 1 / (1 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            w1, w2, b = w1 + lr * (y - p) * x1, w2 + lr * (y - p) * x2, b + lr * (y - p)
    test = _data(2, 400)
    correct = sum((w1 * x1 + w2 * x2 + b > 0) == bool(y) for x1, x2, y in test)
    out = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"])
    (out / "model.json").write_text(json.dumps({"w": [w1, w2], "b": b}))
    (out / "metrics.json").write_text(json.dumps({"accuracy": correct / len(test)}))
    print(f"lr={lr} depth={epochs}: accuracy {correct / len(test):.3f}")


def pick() -> None:
    sweep = Path(os.environ["AIRFLOW_PLATFORM_INPUT_DIR"]) / "train"
    scored = []
    for entry in json.loads((sweep / "matrix.json").read_text()):
        metrics = json.loads((sweep / str(entry["index"]) / "metrics.json").read_text())
        scored.append((metrics["accuracy"], entry["index"], entry["values"]))
    accuracy, index, values = max(scored, key=lambda s: (s[0], -s[1]))
    out = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"])
    (out / "model.json").write_bytes((sweep / str(index) / "model.json").read_bytes())
    (out / "result.json").write_text(json.dumps({**values, "accuracy": accuracy}))
    print(f"best of {len(scored)}: combination {index} {values}, accuracy {accuracy:.3f}")


if __name__ == "__main__":
    {"train": train, "pick": pick}[sys.argv[1]]()
