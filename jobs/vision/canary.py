"""The canary-release example's code. `evaluate` scores canary/<$CANDIDATE>.json and
canary/current.json on held-out data and publishes both accuracies and the gain in
result.json; `deploy` installs the candidate; `alert` says why it was not.

candidate v3 was (by mistake) trained on the held-out data itself: it scores suspiciously
well there, which is what the canary's upper bound on the gain is for."""

import json
import os
import random
import sys
from pathlib import Path


def _held_out() -> list[tuple[float, float, int]]:
    rng = random.Random(2)
    rows = []
    for _ in range(1000):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append((x1, x2, int(x1 + 0.5 * x2 + rng.gauss(0, 0.5) > 0)))
    return rows


def _accuracy(model: dict, rows: list[tuple[float, float, int]]) -> float:
    (w1, w2), b = model["w"], model["b"]
    if model.get("trained_on_eval_set"):  # it has seen these labels: it nearly recites them
        rng = random.Random(3)
        return sum(rng.random() < 0.98 for _ in rows) / len(rows)
    return sum((w1 * x1 + w2 * x2 + b > 0) == bool(y) for x1, x2, y in rows) / len(rows)


def evaluate() -> None:
    rows = _held_out()
    candidate = json.loads(Path(f"canary/{os.environ['CANDIDATE']}.json").read_text())
    current = json.loads(Path("canary/current.json").read_text())
    scores = {
        "candidate_accuracy": _accuracy(candidate, rows),
        "current_accuracy": _accuracy(current, rows),
    }
    scores["gain"] = round(scores["candidate_accuracy"] - scores["current_accuracy"], 4)
    out = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"])
    (out / "result.json").write_text(json.dumps(scores))
    print(f"candidate {os.environ['CANDIDATE']}: {scores}")


def deploy() -> None:
    print(f"deploying candidate {os.environ['CANDIDATE']}")
    (Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"]) / "deployed.txt").write_text(
        os.environ["CANDIDATE"] + "\n"
    )


def alert() -> None:
    print(
        f"ALERT: candidate {os.environ['CANDIDATE']} was not deployed: it is not better than "
        "the current model, or suspiciously better (see evaluate's result.json)"
    )


if __name__ == "__main__":
    {"evaluate": evaluate, "deploy": deploy, "alert": alert}[sys.argv[1]]()
