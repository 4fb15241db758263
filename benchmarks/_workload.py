"""Generated workloads for the benchmarks: job specs, pipeline specs and their equivalents.

Everything is written into a temporary folder the caller owns; nothing here is committed data.
The same deterministic pipeline description (``pipelines(n)``) is rendered three ways so the
three DAG-parse contenders build the same DAGs:

- ``write_ours``: pipeline specs in the platform's format (``jobs/<team>/<name>.yaml``);
- ``write_dagfactory``: dag-factory 1.1 YAML, one file per DAG, KubernetesPodOperator tasks
  with ``container_resources`` in dag-factory's ``__type__`` form;
- ``write_handwritten``: a JSON data file and a Python DAG file that builds the same DAGs with
  KubernetesPodOperator directly (no YAML at all: the floor).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEAMS = ("vision", "nlp", "analytics")
GPU_TEAMS = ("vision", "nlp")
NAMESPACE = "airflow-jobs"
# The packaged catalog (airflow_platform/data/platform.yaml), as a hand-written DAG would have it.
FLAVORS: dict[str, dict[str, Any]] = {
    "cpu-2gb": {"cpu": "1", "memory": "2Gi"},
    "cpu-4gb": {"cpu": "2", "memory": "4Gi"},
    "cpu-16gb": {"cpu": "4", "memory": "16Gi"},
    "ram-64gb": {"cpu": "4", "memory": "64Gi"},
    "gpu-1x-24gb": {"cpu": "8", "memory": "48Gi", "gpu": 1, "startup": 1200},
}
DEFAULT_STARTUP_S = 300  # a flavor's startup allowance when the catalog gives none
TIMEOUT_MARGIN_S = 30
GPU_LABEL = "nvidia.com/gpu.present"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_PRODUCT = "NVIDIA-A10G"
GPU_RESOURCE = "nvidia.com/gpu"
SCHEDULES = ("@daily", "@hourly", "0 6 * * *", "30 2 * * 1-5", "*/15 * * * *", None)
DURATIONS = (  # (as written in a spec, seconds)
    ("30 minutes", 1800),
    ("1h30m", 5400),
    ("45m", 2700),
    ("PT2H", 7200),
    ("90 minutes", 5400),
    ("20m", 1200),
    ("600s", 600),
    ("3 hours", 10800),
)
GROUPS = {"ingest": ("extract", "compile_data"), "model": ("fit_model", "evaluate", "publish")}
DEPENDS = {
    "extract": [],
    "compile_data": ["extract"],
    "fit_model": ["compile_data"],
    "evaluate": ["fit_model"],
    "publish": ["evaluate", "compile_data"],
}


@dataclass
class Task:
    task_id: str
    group: str
    flavor: str
    script: str
    seconds: int
    env: dict[str, str]
    depends_on: list[str]
    overrides: dict[str, Any] = field(default_factory=dict)  # what the spec writes on the task


@dataclass
class Pipeline:
    name: str
    team: str
    schedule: str | None
    critical: bool
    retries: int
    image: str
    defaults: dict[str, Any]  # spec's dag.defaults
    tasks: list[Task]


def pipelines(n: int, seed: int = 5) -> list[Pipeline]:
    """``n`` distinct pipelines of 5 tasks in two groups; about a quarter fit a model on a GPU."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        gpu = team in GPU_TEAMS and rng.random() < 0.35
        duration, seconds = DURATIONS[i % len(DURATIONS)]
        image = f"registry.internal/{team}/pipe-{i % 37}:{1 + i % 5}.{i % 11}"
        env = {"PIPELINE_ID": str(i), "DATA_ROOT": f"s3://data-{team}/p{i}"}
        defaults = {
            "resource_flavor": "cpu-4gb",
            "docker_image": image,
            "execution_time": duration,
            "env": env,
        }
        fit_flavor = "gpu-1x-24gb" if gpu else rng.choice(("cpu-16gb", "ram-64gb"))
        tasks = []
        for group, ids in GROUPS.items():
            for task_id in ids:
                script = f"python -m pipe.{task_id} --pipeline {i} --shard {rng.randrange(64)}"
                overrides: dict[str, Any] = {"execution_script": script}
                flavor, secs, task_env = "cpu-4gb", seconds, dict(env)
                if task_id == "fit_model":
                    flavor, secs = fit_flavor, 7200
                    overrides.update(resource_flavor=flavor, execution_time="2 hours")
                    overrides["env"] = {"EPOCHS": str(1 + i % 20)}
                    task_env["EPOCHS"] = str(1 + i % 20)
                elif task_id == "publish":
                    flavor = "cpu-2gb"
                    overrides["resource_flavor"] = flavor
                if DEPENDS[task_id]:
                    overrides["depends_on"] = list(DEPENDS[task_id])
                tasks.append(
                    Task(
                        task_id, group, flavor, script, secs, task_env, DEPENDS[task_id], overrides
                    )
                )
        out.append(
            Pipeline(
                name=f"pipe-{i:04d}-{team}",
                team=team,
                schedule=SCHEDULES[i % len(SCHEDULES)],
                critical=i % 4 == 0,
                retries=i % 3,
                image=image,
                defaults=defaults,
                tasks=tasks,
            )
        )
    return out


def spec_file_stem(p: Pipeline) -> str:
    """The spec's file name: the DAG's name, except for one in 50 (renamed files happen)."""
    index = int(p.name.split("-")[1])
    return f"{p.team}-pipeline-{index}" if index % 50 == RENAMED_MOD else p.name


RENAMED_MOD = 7


# --- ours -------------------------------------------------------------------------------------


def write_ours(folder: Path, items: list[Pipeline]) -> Path:
    """Pipeline specs under ``folder/jobs/<team>/``; returns the jobs folder."""
    jobs = folder / "jobs"
    for p in items:
        dag: dict[str, Any] = {"name": p.name, "team": p.team}
        if p.schedule:
            dag["schedule"] = p.schedule
        dag.update(critical=p.critical, retries=p.retries, defaults=p.defaults)
        tasks: dict[str, dict[str, Any]] = {}
        for t in p.tasks:
            tasks.setdefault(t.group, {})[t.task_id] = t.overrides
        path = jobs / p.team / f"{spec_file_stem(p)}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"dag": dag, "tasks": tasks}, sort_keys=False))
    return jobs


# --- the shared pod arguments of the two KubernetesPodOperator contenders -------------------------


def pod_arguments(p: Pipeline, t: Task) -> dict[str, Any]:
    """The KubernetesPodOperator arguments (as plain data) that give the same pod as ours."""
    flavor = FLAVORS[t.flavor]
    requests: dict[str, str] = {"cpu": flavor["cpu"], "memory": flavor["memory"]}
    limits: dict[str, str] = {"memory": flavor["memory"]}
    args: dict[str, Any] = {
        "name": t.task_id.replace("_", "-"),
        "namespace": f"{NAMESPACE}-{p.team}",
        "image": p.image,
        "cmds": ["/bin/sh", "-c"],
        "arguments": [t.script],
        "env_vars": t.env,
        "labels": {
            "airflow-platform/team": p.team,
            "airflow-platform/flavor": t.flavor,
            "airflow-platform/dag": p.name,
        },
        "deferrable": True,
        "get_logs": True,
        "on_finish_action": "delete_pod",
        "execution_timeout_s": t.seconds
        + flavor.get("startup", DEFAULT_STARTUP_S)
        + TIMEOUT_MARGIN_S,
    }
    if "gpu" in flavor:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(flavor["gpu"])
        args["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": GPU_LABEL, "operator": "Exists"},
                                {
                                    "key": GPU_PRODUCT_LABEL,
                                    "operator": "In",
                                    "values": [GPU_PRODUCT],
                                },
                            ]
                        }
                    ]
                }
            }
        }
        args["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    args["requests"], args["limits"] = requests, limits
    return args


def tags(p: Pipeline) -> list[str]:
    """The tags ours gives a DAG: the platform, the team, each flavor, critical."""
    flavors = sorted({t.flavor for t in p.tasks})
    out = ["airflow-platform", f"team:{p.team}", *(f"flavor:{f}" for f in flavors)]
    return [*out, "critical"] if p.critical else out


# --- dag-factory ------------------------------------------------------------------------------

KPO = "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"
DAGFACTORY_ENTRY = '''"""dag-factory 1.1 loading the equivalent YAML (generated by the benchmarks)."""
import os

from airflow import DAG  # noqa: F401  (the words the DagBag's safe mode looks for)
from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), dags_folder=os.environ["BENCH_DAGFACTORY_DIR"])
'''


def dagfactory_dag(p: Pipeline) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for t in p.tasks:
        a = pod_arguments(p, t)
        task: dict[str, Any] = {"operator": KPO, "task_group_name": t.group}
        for key in (
            "name",
            "namespace",
            "image",
            "cmds",
            "arguments",
            "env_vars",
            "labels",
            "deferrable",
            "get_logs",
            "on_finish_action",
        ):
            task[key] = a[key]
        task["execution_timeout"] = {
            "__type__": "datetime.timedelta",
            "seconds": a["execution_timeout_s"],
        }
        task["container_resources"] = {
            "__type__": "kubernetes.client.models.V1ResourceRequirements",
            "requests": a["requests"],
            "limits": a["limits"],
        }
        if "affinity" in a:
            task["affinity"] = a["affinity"]
            task["tolerations"] = a["tolerations"]
        if t.depends_on:
            task["dependencies"] = list(t.depends_on)
        tasks[t.task_id] = task
    return {
        "default_args": {"owner": p.team, "retries": p.retries, "start_date": "2024-01-01"},
        "schedule": p.schedule,
        "catchup": False,
        "tags": tags(p),
        "params": {"critical": p.critical},
        "task_groups": {group: {} for group in GROUPS},
        "tasks": tasks,
    }


def write_dagfactory(folder: Path, items: list[Pipeline]) -> Path:
    """dag-factory YAML (one file per DAG) and its DAG file; returns the DAG file."""
    configs = folder / "configs"
    for p in items:
        path = configs / p.team / f"{p.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({p.name: dagfactory_dag(p)}, sort_keys=False))
    entry = folder / "dags" / "dagfactory_jobs.py"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(DAGFACTORY_ENTRY)
    return entry


# --- hand-written -----------------------------------------------------------------------------

HANDWRITTEN_ENTRY = '''"""The same DAGs written by hand with KubernetesPodOperator (generated by the benchmarks).

As a careful author would write it: the per-flavor resources and the GPU placement are built
once, the per-DAG data comes from a JSON file beside this one (no YAML).
"""
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, TaskGroup
from kubernetes.client import models as k8s

DATA = json.loads((Path(__file__).parent / "handwritten_data.json").read_text())
START = datetime(2024, 1, 1, tzinfo=UTC)
RESOURCES = {
    name: k8s.V1ResourceRequirements(requests=f["requests"], limits=f["limits"])
    for name, f in DATA["flavors"].items()
}
GPU_AFFINITY = k8s.V1Affinity(
    node_affinity=k8s.V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
            node_selector_terms=[
                k8s.V1NodeSelectorTerm(
                    match_expressions=[
                        k8s.V1NodeSelectorRequirement(key="%(label)s", operator="Exists"),
                        k8s.V1NodeSelectorRequirement(
                            key="%(product_label)s", operator="In", values=["%(product)s"]
                        ),
                    ]
                )
            ]
        )
    )
)
GPU_TOLERATIONS = [k8s.V1Toleration(key="%(resource)s", operator="Exists", effect="NoSchedule")]

for spec in DATA["dags"]:
    with DAG(
        dag_id=spec["name"],
        schedule=spec["schedule"],
        start_date=START,
        catchup=False,
        tags=spec["tags"],
        default_args={"owner": spec["team"], "retries": spec["retries"]},
        params={"critical": spec["critical"]},
    ) as dag:
        groups = {name: TaskGroup(group_id=name) for name in spec["groups"]}
        ops = {}
        for t in spec["tasks"]:
            gpu = DATA["flavors"][t["flavor"]]["gpu"]
            ops[t["task_id"]] = KubernetesPodOperator(
                task_id=t["task_id"],
                task_group=groups[t["group"]],
                name=t["name"],
                namespace="%(namespace)s",
                image=spec["image"],
                cmds=["/bin/sh", "-c"],
                arguments=[t["script"]],
                env_vars=t["env"],
                labels=t["labels"],
                container_resources=RESOURCES[t["flavor"]],
                affinity=GPU_AFFINITY if gpu else None,
                tolerations=GPU_TOLERATIONS if gpu else None,
                deferrable=True,
                get_logs=True,
                on_finish_action="delete_pod",
                execution_timeout=timedelta(seconds=t["timeout_s"]),
            )
        for t in spec["tasks"]:
            for upstream in t["depends_on"]:
                ops[upstream] >> ops[t["task_id"]]
    globals()[spec["name"]] = dag
'''


def write_handwritten(folder: Path, items: list[Pipeline]) -> Path:
    """The hand-written DAG file and its JSON data module; returns the DAG file."""
    flavors: dict[str, Any] = {}
    dags = []
    for p in items:
        tasks = []
        for t in p.tasks:
            a = pod_arguments(p, t)
            flavors[t.flavor] = {
                "requests": a["requests"],
                "limits": a["limits"],
                "gpu": "affinity" in a,
            }
            tasks.append(
                {
                    "task_id": t.task_id,
                    "group": t.group,
                    "name": a["name"],
                    "flavor": t.flavor,
                    "script": t.script,
                    "env": a["env_vars"],
                    "labels": a["labels"],
                    "timeout_s": a["execution_timeout_s"],
                    "depends_on": t.depends_on,
                }
            )
        dags.append(
            {
                "name": p.name,
                "team": p.team,
                "schedule": p.schedule,
                "critical": p.critical,
                "retries": p.retries,
                "image": p.image,
                "tags": tags(p),
                "groups": list(GROUPS),
                "tasks": tasks,
            }
        )
    folder = folder / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handwritten_data.json").write_text(json.dumps({"flavors": flavors, "dags": dags}))
    entry = folder / "handwritten_jobs.py"
    entry.write_text(
        HANDWRITTEN_ENTRY
        % {
            "label": GPU_LABEL,
            "product_label": GPU_PRODUCT_LABEL,
            "product": GPU_PRODUCT,
            "resource": GPU_RESOURCE,
            "namespace": NAMESPACE,
        }
    )
    return entry


# --- single job specs (spec_validate) ----------------------------------------------------------


def job_spec_texts(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """``n`` distinct valid job specs as (file name, YAML text), in varied styles."""
    rng = random.Random(seed)
    cpu = ("cpu-2gb", "cpu-4gb", "cpu-16gb", "ram-64gb")
    out = []
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        flavors = cpu + (("gpu-1x-24gb",) if team in GPU_TEAMS else ())
        flavors += ("gpu-4x-96gb",) if team == "vision" else ()
        flavor = rng.choice(flavors)
        duration, _ = DURATIONS[rng.randrange(len(DURATIONS))]
        lines = [f"# generated job {i}", "job:"]
        if i % 3:
            lines.append(f"  name: job-{i:04d}-{team}")
        lines += [
            f"  team: {team}",
            f"  resource_flavor: {flavor}",
            f"  docker_image: registry.internal/{team}/tool-{i % 29}:{i % 7}.{i % 13}.{i % 3}",
            f"  execution_time: {duration}",
        ]
        if i % 2:
            lines.append(f"  execution_script: python run.py --job {i} --seed {rng.randrange(999)}")
        else:
            lines.append(f"  execution_script: [python, run.py, --job, '{i}']")
        schedule = SCHEDULES[i % len(SCHEDULES)]
        if schedule:
            lines.append(f'  schedule: "{schedule}"')
        if i % 5 == 0:
            lines.append(f"  retries: {i % 4}")
        if i % 7 == 0:
            lines.append("  critical: true")
        n_env = i % 5
        if n_env:
            lines.append("  env:")
            lines += [f'    VAR_{k}_{i % 17}: "value-{k}-{i}"' for k in range(n_env)]
        if i % 6 == 0:
            lines.append(f"  secrets: [{{name: creds-{team}, key: token, env: API_TOKEN}}]")
        out.append((f"{team}/job-{i:04d}.yaml", "\n".join(lines) + "\n"))
    return out
