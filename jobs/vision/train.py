"""Trains a logistic-regression classifier on synthetic data (stands in for a GPU training run)."""

import argparse
import math
import os
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(42)
    n = int(os.environ.get("TRAIN_SAMPLES", "1000"))
    data = []
    for _ in range(n):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        data.append((x1, x2, 1 if x1 + 0.5 * x2 > 0 else 0))
    w1 = w2 = b = 0.0
    for epoch in range(1, args.epochs + 1):
        loss = 0.0
        for x1, x2, y in data:
            p = 1 / (1 + math.exp(-(w1 * x1 + w2 * x2 + b)))
            loss -= math.log(p if y else 1 - p)
            g = p - y
            w1 -= 0.05 * g * x1
            w2 -= 0.05 * g * x2
            b -= 0.05 * g
        print(f"epoch {epoch}/{args.epochs} loss={loss / n:.4f}", flush=True)
    accuracy = sum((w1 * x1 + w2 * x2 + b > 0) == bool(y) for x1, x2, y in data) / n
    print(f"accuracy={accuracy:.3f}")


if __name__ == "__main__":
    main()
