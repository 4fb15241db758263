"""Gates and sweeps: conditions evaluated on published results (never as code), the result
file's checks, Airflow's trigger rules as the local runner follows them, and both examples
(jobs/vision/lr-sweep.yaml, jobs/vision/canary-release.yaml) run with `run --local`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from airflow_platform.cli import app
from airflow_platform.gates import ResultError, check_result, evaluate, trigger_decision
from airflow_platform.spec.conditions import Condition, combinations
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import parse_spec_text

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DECLARED = {"evaluate": {"acc": "number", "base": "number", "ok": "boolean", "name": "string"}}
RESULTS = {"evaluate": {"acc": 0.9, "base": 0.8, "ok": True, "name": "v2"}}


def _condition(data: dict[str, Any]) -> Condition:
    return Condition.model_validate(data)


@pytest.mark.parametrize(
    ("data", "holds"),
    [
        ({"task": "evaluate", "key": "acc", "op": ">", "value": "0.85"}, True),
        ({"task": "evaluate", "key": "acc", "op": "<=", "value": "0.85"}, False),
        ({"task": "evaluate", "key": "acc", "op": ">", "value_of": {"task": "evaluate", "key": "base"}}, True),
        ({"task": "evaluate", "key": "ok", "op": "==", "value": "true"}, True),
        ({"task": "evaluate", "key": "name", "op": "!=", "value": "v2"}, False),
        ({"all": [{"task": "evaluate", "key": "ok", "op": "==", "value": "true"},
                  {"task": "evaluate", "key": "acc", "op": "<", "value": "0.5"}]}, False),
        ({"any": [{"task": "evaluate", "key": "ok", "op": "==", "value": "false"},
                  {"task": "evaluate", "key": "acc", "op": ">=", "value": "0.9"}]}, True),
        ({"not": {"task": "evaluate", "key": "acc", "op": ">", "value": "0.85"}}, False),
    ],
)  # fmt: skip
def test_a_condition_compares_published_values_with_values_or_other_keys(
    data: dict[str, Any], holds: bool
) -> None:
    assert evaluate(_condition(data), RESULTS, DECLARED) is holds


def test_a_comparison_with_a_task_that_published_nothing_is_false() -> None:
    condition = _condition({"task": "evaluate", "key": "acc", "op": "!=", "value": "0"})
    assert evaluate(condition, {}, DECLARED) is False
    assert evaluate(_condition({"not": condition.model_dump(by_alias=True)}), {}, DECLARED)


@pytest.mark.parametrize(
    ("rule", "upstream", "decision"),
    [
        ("all_success", ["success", "success"], "run"),
        ("all_success", ["success", "skipped"], "skipped"),
        ("all_success", ["skipped", "failed"], "upstream_failed"),
        ("all_skipped", ["skipped"], "run"),
        ("all_skipped", ["success"], "skipped"),
        ("one_failed", ["success", "upstream_failed"], "run"),
        ("one_failed", ["success", "skipped"], "skipped"),
        ("all_failed", ["failed", "failed"], "run"),
        ("all_done", ["failed", "skipped"], "run"),
        ("one_success", ["failed", "success"], "run"),
        ("one_success", ["failed", "failed"], "upstream_failed"),
        ("none_failed", ["skipped", "success"], "run"),
        ("none_failed", ["failed"], "upstream_failed"),
        ("none_failed_min_one_success", ["skipped", "skipped"], "skipped"),
        ("all_success", [], "run"),
    ],
)
def test_the_local_runner_decides_as_airflows_trigger_rules_do(
    rule: str, upstream: list[str], decision: str
) -> None:
    assert trigger_decision(rule, upstream) == decision


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "wrote no $AIRFLOW_PLATFORM_OUTPUT_DIR/result.json"),
        (b"x" * 100, "100 bytes, more than the platform's cap of 64"),
        (b"{not json", "is not JSON"),
        (b"[1]", "holds no JSON object"),
        (b'{"acc": "high", "ok": true}', "'acc' is not a number"),
        (b'{"acc": 0.9}', "'ok' is missing"),
    ],
)
def test_a_result_that_is_not_what_its_task_declares_fails_it(
    data: bytes | None, message: str
) -> None:
    with pytest.raises(ResultError, match=message.replace("$", r"\$")):
        check_result(data, {"acc": "number", "ok": "boolean"}, 64)


def test_a_result_keeps_only_its_declared_keys() -> None:
    data = b'{"acc": 0.9, "ok": false, "notes": "extra"}'
    assert check_result(data, {"acc": "number", "ok": "boolean"}, 64) == {"acc": 0.9, "ok": False}


def test_combinations_vary_the_first_key_slowest() -> None:
    assert combinations({"lr": ["0.1", "0.01"], "depth": ["4", "8"]}) == [
        {"lr": "0.1", "depth": "4"}, {"lr": "0.1", "depth": "8"},
        {"lr": "0.01", "depth": "4"}, {"lr": "0.01", "depth": "8"},
    ]  # fmt: skip


PIPELINE = """\
dag:
  team: vision
  defaults: {resource_flavor: cpu-2gb, docker_image: registry.internal/vision/train:1.4.2, execution_time: 1m}
tasks:
  main:
    evaluate: {execution_script: 'true', result: {acc: number, ok: boolean, name: string}}
    deploy: {execution_script: 'true', depends_on: [evaluate], when: WHEN}
"""
WORDS = ["task", "key", "op", "value", "value_of", "all", "any", "not", "evaluate", "deploy",
         "acc", "ok", "name", "==", ">", "=", "true", "0.9", "", "eval"]  # fmt: skip
scalars = st.sampled_from(WORDS) | st.text(max_size=8) | st.integers() | st.booleans()
trees = st.recursive(
    scalars | st.none(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(WORDS), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(when=trees, results=st.dictionaries(st.sampled_from(["acc", "ok", "name"]), scalars))
def test_any_when_is_a_located_error_or_a_condition_that_evaluates_to_a_boolean(
    when: Any, results: dict[str, Any]
) -> None:
    text = PIPELINE.replace("WHEN", json.dumps(when))
    try:
        doc = parse_spec_text(text, "fuzz.yaml")
    except SpecError as exc:
        problems = exc.problems
        doc = None
    if doc is None:  # every problem is located in the file
        assert all(p.line >= 1 for p in problems), problems
        return
    deploy = next(t for t in doc.tasks if t.task_id == "deploy")
    if deploy.when is None:  # `when: null` is no condition, as an empty value is anywhere
        assert when is None
        return
    typed = {k: v for k, v in results.items() if k != "acc" or isinstance(v, int)}
    assert evaluate(deploy.when, {"evaluate": typed}, {"evaluate": dict(doc.tasks[0].result)}) in (
        True, False,
    )  # fmt: skip


def _run(tmp_path: Path, spec: str, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["run", "--local", str(REPO / spec), "--artifacts", str(tmp_path), "--run-id", "r1", *args],
        env={"COLUMNS": "200"},
    )


def test_the_lr_sweep_runs_one_process_per_combination_and_picks_the_best(tmp_path: Path) -> None:
    result = _run(tmp_path, "jobs/vision/lr-sweep.yaml")
    assert result.exit_code == 0, result.output
    run = tmp_path / "lr-sweep" / "r1"
    assert [f"[{i}]" in result.output for i in range(6)] == [True] * 6
    assert "sweep.train[3] (LR=0.01, DEPTH=8): Completed" in result.output
    assert json.loads((run / "train" / "3" / "matrix.json").read_text()) == {"lr": 0.01, "depth": 8}
    assert (run / "train" / "3" / "1" / "metrics.json").is_file()
    best = json.loads((run / "pick_best" / "1" / "result.json").read_text())
    scores = [
        json.loads((run / "train" / str(i) / "1" / "metrics.json").read_text())["accuracy"]
        for i in range(6)
    ]
    assert best["accuracy"] == max(scores)


@pytest.mark.parametrize(
    ("candidate", "ran", "skipped"),
    [("v2", "deploying candidate v2", "canary.alert: skipped"),
     ("v3", "ALERT: candidate v3 was not deployed", "canary.deploy: skipped, its `when:` is false")],
)  # fmt: skip
def test_the_canary_deploys_on_one_input_and_alerts_with_deploy_skipped_on_another(
    tmp_path: Path, candidate: str, ran: str, skipped: str
) -> None:
    result = _run(tmp_path, "jobs/vision/canary-release.yaml", "--param", f"candidate={candidate}")
    assert result.exit_code == 0, result.output
    assert ran in result.output
    assert skipped in result.output
    deployed = tmp_path / "canary-release" / "r1" / "deploy" / "1" / "deployed.txt"
    assert deployed.is_file() is (candidate == "v2")


def test_a_task_that_does_not_publish_its_declared_result_fails_and_skips_its_gate(
    tmp_path: Path,
) -> None:
    spec = yaml.safe_load(
        PIPELINE.replace("WHEN", "{task: evaluate, key: ok, op: '==', value: true}")
    )
    spec["tasks"]["main"]["alert"] = {"execution_script": "echo alerted", "depends_on": ["evaluate"],
                                      "trigger_rule": "one_failed"}  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(
        app,
        ["run", "--local", str(path), "--artifacts", str(tmp_path / "a")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1
    assert "main.evaluate: ResultInvalid" in result.output
    assert "wrote no $AIRFLOW_PLATFORM_OUTPUT_DIR/result.json" in result.output
    assert "main.deploy: upstream_failed" in result.output
    assert "alerted" in result.output
