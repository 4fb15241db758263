"""The DAG factory inside real Airflow 3.3: what the dag-processor and a task runner see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "dags" / "platform_jobs.py"
ERRORS = ROOT / "dags" / "platform_spec_errors.py"

# The four fields a team's folder needs: the file names the job, the folder its team.
GOOD_JOB = {
    "resource_flavor": "cpu-2gb",
    "docker_image": "registry.internal/nlp/tools:0.3.1",
    "execution_time": "10m",
    "execution_script": "echo hello",
}


def _bag(entry: Path = ENTRY) -> Any:
    """Parses the DAG file the way the dag-processor does (Airflow's own DagBag and importer)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(entry))


def _spec_errors() -> str:
    """The import error of the DAG file that reports invalid specs (and asserts it is the
    only one of the dags folder: the file that builds the DAGs has none)."""
    bag = _bag(ROOT / "dags")
    assert [Path(k).name for k in bag.import_errors] == [ERRORS.name], bag.import_errors
    return str(next(iter(bag.import_errors.values())))


def _write(folder: Path, relative: str, content: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _validate_text(jobs_dir: Path) -> str:
    """What `airflow-platform validate jobs` prints, run from the jobs folder's parent."""
    cli = Path(sys.executable).parent / "airflow-platform"
    result = subprocess.run(
        [str(cli), "validate", jobs_dir.name], cwd=jobs_dir.parent, capture_output=True, text=True
    )
    return result.stdout


def test_every_example_spec_imports_without_an_import_error(airflow_db: Path) -> None:
    """Each spec in jobs/ becomes a DAG, and the DAG files import cleanly."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert {
        "train-classifier",
        "count-tokens",
        "strain-normalization",
        "platform_job_runner",
    } <= set(bag.dag_ids)


def test_the_importer_finds_each_dag_once_recorded_in_the_dag_file(airflow_db: Path) -> None:
    """Airflow's importer collects a file's DAGs from its globals and from the DAGs closed
    while it ran, deduplicated by hash: a DAG changed after its block ended would be found
    (validated, bagged) twice."""
    from airflow.dag_processing.importers.python_importer import PythonDagImporter

    result = PythonDagImporter().import_file(ENTRY, bundle_path=ENTRY.parent)
    ids = [dag.dag_id for dag in result.dags]
    assert sorted(ids) == sorted(set(ids))
    assert {"train-classifier", "count-tokens", "strain-normalization"} <= set(ids)
    assert {dag.fileloc for dag in result.dags} == {str(ENTRY)}


def test_bad_specs_never_hide_good_ones_and_show_validate_text(
    airflow_db: Path, jobs_dir: Path
) -> None:
    """A folder mixing good and bad specs yields every good DAG, and one import error of the
    DAG file that holds, for each bad file, exactly what `airflow-platform validate` prints."""
    _write(jobs_dir, "nlp/good-one.yaml", yaml.safe_dump({"job": GOOD_JOB}))
    _write(jobs_dir, "vision/good-two.yaml", yaml.safe_dump({"job": GOOD_JOB}))
    _write(jobs_dir, "nlp/typo.yaml", "job:\n  team: nlp\n  resourse_flavor: cpu-2gb\n")
    _write(jobs_dir, "vision/broken.yaml", "job: [unclosed\n")
    bag = _bag()
    assert set(bag.dag_ids) == {"good-one", "good-two"}
    assert bag.import_errors == {}
    error = _spec_errors()
    expected = _validate_text(jobs_dir)
    assert "jobs/nlp/typo.yaml:3:3: job.resourse_flavor: unknown key" in expected
    for line in expected.strip().splitlines():
        assert line in error


def test_fixing_the_bad_spec_clears_the_import_error(airflow_db: Path, jobs_dir: Path) -> None:
    """Once every spec is valid the error file imports cleanly again."""
    bad = _write(jobs_dir, "nlp/typo.yaml", "job:\n  team: nlp\n  resourse_flavor: cpu-2gb\n")
    assert _bag(ERRORS).import_errors
    bad.write_text(yaml.safe_dump({"job": GOOD_JOB}))
    assert _bag(ERRORS).import_errors == {}
    bag = _bag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["typo"]


def test_a_bad_spec_never_stops_another_teams_schedule(airflow_db: Path, jobs_dir: Path) -> None:
    """Synced to the database as the dag-processor does, the dags folder beside a bad spec
    leaves the good scheduled DAG fresh and error-free, so the scheduler still creates its
    runs: Airflow flags every DAG of a file with an import error (stale, with errors), and the
    scheduler starts none of those on schedule."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    _write(jobs_dir, "nlp/daily.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "schedule": "@daily"}}))
    _write(jobs_dir, "vision/typo.yaml", "job:\n  team: vision\n  resourse_flavor: cpu-2gb\n")
    bag = DagBag(dag_folder=str(ROOT / "dags"), bundle_path=ROOT / "dags")
    assert [Path(k).name for k in bag.import_errors] == [ERRORS.name], bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    with create_session() as session:
        daily = session.scalar(select(DagModel).where(DagModel.dag_id == "daily"))
        assert daily is not None
        assert (daily.has_import_errors, daily.is_stale) == (False, False)
        assert daily.next_dagrun_create_after is not None


def test_task_runner_parse_builds_only_the_task_dag(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Airflow's parsing context set, the file builds just that DAG — even next to a broken
    spec, which a task runner does not need to read."""
    for i in range(30):
        _write(jobs_dir, f"nlp/job-{i}.yaml", yaml.safe_dump({"job": GOOD_JOB}))
    _write(jobs_dir, "nlp/typo.yaml", "job:\n  team: nlp\n  resourse_flavor: cpu-2gb\n")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "job-17")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "job-17")
    bag = _bag()
    assert bag.dag_ids == ["job-17"]
    assert bag.import_errors == {}


def test_a_task_runner_finds_a_dag_whose_name_differs_from_its_file(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path guesses by file name; a spec with its own `name:` is still found."""
    _write(
        jobs_dir, "nlp/file-name.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "name": "own-name"}})
    )
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "own-name")
    assert _bag().dag_ids == ["own-name"]


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!ruby/object:Gem::Installer {{ x: '{marker}' }}",
    ],
)
def test_specs_are_data_and_cannot_run_code(
    airflow_db: Path, jobs_dir: Path, tmp_path: Path, payload: str
) -> None:
    """No YAML tag anywhere in a spec constructs an object or runs a command."""
    marker = tmp_path / "pwned"
    text = f"job:\n  resource_flavor: cpu-2gb\n  env:\n    X: {payload.format(marker=marker)}\n"
    _write(jobs_dir, "nlp/evil.yaml", text)
    _bag()
    assert not marker.exists()
    assert "is not allowed: specs are data" in _spec_errors()


def test_keys_that_name_code_are_unknown_keys(airflow_db: Path, jobs_dir: Path) -> None:
    """dag-factory's `__type__`-style keys are just unknown keys here."""
    job = {**GOOD_JOB, "__type__": "os.system", "operator": "airflow.operators.bash.BashOperator"}
    _write(jobs_dir, "nlp/typed.yaml", yaml.safe_dump({"job": job}))
    error = _spec_errors()
    assert "job.__type__: unknown key '__type__'" in error
    assert "job.operator: unknown key 'operator'" in error


def test_two_specs_with_one_name_keep_the_first_and_report_the_second(
    airflow_db: Path, jobs_dir: Path
) -> None:
    """DAG ids are spec names; a second file claiming one is an error naming both files."""
    _write(jobs_dir, "nlp/first.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "name": "same"}}))
    _write(jobs_dir, "vision/second.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "name": "same"}}))
    bag = _bag()
    assert bag.dag_ids == ["same"]
    assert (
        "jobs/vision/second.yaml: name 'same' is already used by jobs/nlp/first.yaml"
        in _spec_errors()
    )


def test_a_task_runner_builds_the_spec_the_dag_processor_chose(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files define DAG `bar`: analytics/renamed.yaml by its `name:` and vision/bar.yaml by
    its file name. The dag-processor keeps the first in file order (analytics') and reports
    the other; a task runner of `bar` must build that same spec, not the file named after it."""
    named = {"job": {**GOOD_JOB, "team": "analytics", "name": "bar"}}
    _write(jobs_dir, "analytics/renamed.yaml", yaml.safe_dump(named))
    _write(jobs_dir, "vision/bar.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "team": "vision"}}))
    assert "team:analytics" in _bag().dags["bar"].tags
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "bar")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "bar")
    runner = _bag()
    assert runner.dag_ids == ["bar"]
    assert "team:analytics" in runner.dags["bar"].tags


def test_a_task_runner_finds_a_dag_named_after_a_file_of_another_spelling(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Train_Model.yaml` defines DAG `train-model` (its name made a DNS label); a task runner
    finds it though neither the file name nor the text holds that id."""
    _write(jobs_dir, "nlp/Train_Model.yaml", yaml.safe_dump({"job": {**GOOD_JOB, "team": "nlp"}}))
    assert _bag().dag_ids == ["train-model"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "train-model")
    assert _bag().dag_ids == ["train-model"]


def test_each_try_is_guarded_once(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task start runs the one guard (policy.check_job) once, not twice; the DAG's parse
    checked the spec already, through the same function."""
    from airflow_platform.operators import rails

    _write(jobs_dir, "nlp/once.yaml", yaml.safe_dump({"job": GOOD_JOB}))
    dag = _bag().dags["once"]
    calls: list[str] = []
    real = rails.check_job

    def counting(job: Any, config: Any) -> Any:
        calls.append(job.name)
        return real(job, config)

    monkeypatch.setattr(rails, "check_job", counting)
    assert dag.test().state == "success"
    assert calls == ["once"]


def test_pipeline_dag_has_groups_dependencies_tags_and_docs(airflow_db: Path) -> None:
    """The example pipeline: task groups per stage, depends_on as edges, team/flavor tags."""
    dag = _bag().dags["strain-normalization"]
    assert dag.task_ids == [
        "ingest.compile_data",
        "ingest.detect_failures",
        "model.fit_model",
        "calls.call_improved_strains",
        "calls.invalidate_prior_data",
        "publish.report",
    ]
    assert dag.get_task("model.fit_model").upstream_task_ids == {"ingest.detect_failures"}
    assert dag.get_task("calls.invalidate_prior_data").upstream_task_ids == {
        "calls.call_improved_strains"
    }
    assert dag.get_task("publish.report").upstream_task_ids == {
        "ingest.detect_failures",
        "model.fit_model",
        "calls.call_improved_strains",
        "calls.invalidate_prior_data",
    }
    assert {"team:analytics", "flavor:cpu-4gb", "flavor:cpu-16gb", "critical"} <= set(dag.tags)
    assert "python -m norm.fit" in dag.doc_md
    assert dag.schedule == "0 6 * * *"
    fit = dag.get_task("model.fit_model")
    assert fit.execution_timeout.total_seconds() == 2 * 3600 + 600 + 30


def test_example_pipeline_runs_through_airflow_on_the_local_runner(airflow_db: Path) -> None:
    """dag.test() of strain-normalization: every task succeeds as a local process, in order."""
    run = _bag().dags["strain-normalization"].test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert set(states.values()) == {"success"}


def test_failing_local_job_fails_its_task_with_the_exit_code(
    airflow_db: Path, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A job exiting 3 on the local runner fails its task saying so."""
    _write(
        jobs_dir,
        "nlp/exit3.yaml",
        yaml.safe_dump({"job": {**GOOD_JOB, "execution_script": "exit 3"}}),
    )
    run = _bag().dags["exit3"].test()
    assert run.state == "failed"
    assert "job exit3 exited with code 3" in capsys.readouterr().out


HANDOFF = """\
dag:
  defaults: {resource_flavor: cpu-2gb, docker_image: registry.internal/nlp/tools:0.3.1, execution_time: 1m}
  params:
    rows: {type: number, default: 3, minimum: 1, description: Rows to write}
    mode: {default: fast, enum: [fast, slow]}
tasks:
  main:
    first: {execution_script: 'echo "rows=$ROWS mode=$MODE" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt"'}
    second:
      execution_script: 'cat "$AIRFLOW_PLATFORM_INPUT_DIR/first/x.txt"; echo "ds=$AIRFLOW_PLATFORM_DS try=$AIRFLOW_PLATFORM_TRY_NUMBER task=$AIRFLOW_PLATFORM_TASK"'
      depends_on: [first]
"""


def test_params_are_airflow_params_with_their_types_and_descriptions(
    airflow_db: Path, jobs_dir: Path
) -> None:
    _write(jobs_dir, "nlp/handoff.yaml", HANDOFF)
    params = _bag().dags["handoff"].params
    rows = params.get_param("rows")
    assert (rows.value, rows.description) == (3, "Rows to write")
    assert rows.schema == {"type": "number", "minimum": 1}
    assert params.get_param("mode").schema == {"type": "string", "enum": ["fast", "slow"]}
    assert params["critical"] is False


def test_a_task_reads_its_upstream_output_and_the_runs_params_and_date(
    airflow_db: Path, jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_platform.operators.job import local_log_path

    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    _write(jobs_dir, "nlp/handoff.yaml", HANDOFF)
    run = _bag().dags["handoff"].test(run_conf={"rows": 5})
    assert run.state == "success"
    log = local_log_path("handoff", run.run_id, "main.second").read_text()
    ds = (run.logical_date or run.run_after).strftime("%Y-%m-%d")
    assert log == f"rows=5 mode=fast\nds={ds} try=1 task=second\n"
    kept = tmp_path / "artifacts" / "handoff" / run.run_id / "first" / "1" / "x.txt"
    assert kept.read_text() == "rows=5 mode=fast\n"


def test_a_param_of_the_wrong_type_is_refused_before_any_task_runs(
    airflow_db: Path, jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    _write(jobs_dir, "nlp/handoff.yaml", HANDOFF)
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match="rows"):
        _bag().dags["handoff"].test(run_conf={"rows": "many"})
    assert not (tmp_path / "artifacts").exists()


def test_a_sweep_is_one_mapped_task_whatever_its_number_of_combinations(
    airflow_db: Path, jobs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 combinations (under a config that allows them) build one mapped task that holds
    each key's values once; Airflow's product gives map index ``i`` combination ``i``."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator
    from airflow.serialization.serialized_objects import DagSerialization

    config = jobs_dir.parent / "platform.yaml"
    packaged = (ROOT / "airflow_platform" / "data" / "platform.yaml").read_text()
    config.write_text(
        packaged.replace(
            "  jobs_namespace: airflow-jobs\n",
            "  jobs_namespace: airflow-jobs\n  max_matrix_combinations: 1000\n",
        )
    )
    values = [str(i) for i in range(100)]
    _write(
        jobs_dir,
        "nlp/big-sweep.yaml",
        yaml.safe_dump(
            {"dag": {"defaults": GOOD_JOB},
             "tasks": {"main": {"fit": {"matrix": {"seed": values, "lr": [str(x) for x in range(10)]}},
                                "best": {"depends_on": ["fit"]}}}},
            sort_keys=False,
        ),
    )  # fmt: skip
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config))
    dag = _bag().dags["big-sweep"]
    fit = dag.get_task("main.fit")
    assert isinstance(fit, MappedOperator)
    assert len(dag.tasks) == 2
    # Each key's values once; Airflow takes their product when the run expands the task.
    assert fit.expand_input.value == {"matrix_0": values, "matrix_1": [str(x) for x in range(10)]}

    def combination(index: int) -> Any:
        kwargs, _ = fit.expand_input.resolve({"ti": SimpleNamespace(map_index=index)})
        return fit.unmap(kwargs).matrix_values

    assert combination(1) == {"seed": "0", "lr": "1"}  # the first key varies slowest
    assert combination(999) == {"seed": "99", "lr": "9"}
    serialized = DagSerialization.to_dict(dag)
    assert "big-sweep" in str(serialized["dag"]["dag_id"])


def test_a_gate_is_a_task_of_its_own_between_the_gated_task_and_its_upstream(
    airflow_db: Path,
) -> None:
    dag = _bag().dags["canary-release"]
    gate = dag.get_task("canary.deploy__when")
    assert type(gate).__name__ == "GateOperator"
    assert gate.upstream_task_ids == {"canary.evaluate"}
    assert gate.downstream_task_ids == {"canary.deploy"}
    assert dag.get_task("canary.deploy").upstream_task_ids == {"canary.evaluate", gate.task_id}
    assert dag.get_task("canary.alert").trigger_rule == "all_skipped"


def test_a_gated_pipeline_builds_whatever_order_its_tasks_are_written_in(
    airflow_db: Path, jobs_dir: Path
) -> None:
    """The canary with its tasks listed last first (as `yaml.safe_dump` sorts them): the gate
    of `deploy` is wired to `evaluate`, which the file names after it."""
    spec = yaml.safe_load((ROOT / "jobs" / "vision" / "canary-release.yaml").read_text())
    tasks = spec["tasks"]["canary"]
    spec["tasks"]["canary"] = {name: tasks[name] for name in reversed(list(tasks))}
    spec["dag"]["name"] = "canary-reversed"
    _write(jobs_dir, "vision/canary-reversed.yaml", yaml.safe_dump(spec, sort_keys=False))
    bag = _bag()
    assert not bag.import_errors, bag.import_errors
    gate = bag.dags["canary-reversed"].get_task("canary.deploy__when")
    assert gate.upstream_task_ids == {"canary.evaluate"}
    assert gate.downstream_task_ids == {"canary.deploy"}


def test_the_lr_sweep_runs_each_combination_through_airflow_and_picks_the_best(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    run = _bag().dags["lr-sweep"].test()
    states = sorted((ti.task_id, ti.map_index, ti.state) for ti in run.get_task_instances())
    assert run.state == "success", states
    assert [s[1] for s in states if s[0] == "sweep.train"] == [0, 1, 2, 3, 4, 5]
    folder = tmp_path / "artifacts" / "lr-sweep" / run.run_id
    assert json.loads((folder / "train" / "3" / "matrix.json").read_text()) == {
        "lr": 0.01, "depth": 8,
    }  # fmt: skip
    assert sorted(p.name for p in (folder / "train").iterdir()) == [str(i) for i in range(6)]
    best = json.loads((folder / "pick_best" / "1" / "result.json").read_text())
    assert set(best) == {"lr", "depth", "accuracy"}


@pytest.mark.parametrize(
    ("candidate", "ran", "skipped"),
    [("v2", "canary.deploy", "canary.alert"), ("v3", "canary.alert", "canary.deploy")],
)
def test_the_canary_deploys_a_better_candidate_and_alerts_on_a_suspicious_one(
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    candidate: str,
    ran: str,
    skipped: str,
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    run = _bag().dags["canary-release"].test(run_conf={"candidate": candidate})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["canary.evaluate"] == "success"
    assert states["canary.deploy__when"] == "success"
    assert (states[ran], states[skipped]) == ("success", "skipped"), states


GATED_SWEEP = """\
dag:
  defaults: {resource_flavor: cpu-2gb, docker_image: registry.internal/nlp/tools:0.3.1, execution_time: 1m}
tasks:
  main:
    check:
      execution_script: 'echo "{\\"ready\\": $READY}" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/result.json"'
      env: {READY: "false"}
      result: {ready: boolean}
    fit:
      depends_on: [check]
      when: {task: check, key: ready, op: "==", value: true}
      matrix: {seed: [1, 2, 3]}
      execution_script: 'echo "seed $SEED"'
    report:
      depends_on: [fit]
      trigger_rule: all_skipped
      execution_script: 'echo "not ready"'
"""


@pytest.mark.parametrize(("ready", "fit", "report"), [("false", "skipped", "success"),
                                                      ("true", "success", "skipped")])  # fmt: skip
def test_a_gate_before_a_sweep_skips_the_whole_sweep_or_lets_every_combination_run(
    airflow_db: Path,
    jobs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ready: str,
    fit: str,
    report: str,
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    _write(jobs_dir, "nlp/gated-sweep.yaml", GATED_SWEEP.replace('"false"', f'"{ready}"'))
    run = _bag().dags["gated-sweep"].test()
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    fits = {state for (task, _), state in states.items() if task == "main.fit"}
    assert (fits, states[("main.report", -1)]) == ({fit}, report), states
