"""Assets and sensors under the platform config: which team's assets a pipeline may use, where
in the object store a sensor may look, and the Airflow objects they become.

The rules (``asset_problems``, part of the policy that `validate`, the DAG factory and the
operators share through ``airflow_platform.validation``):

- a task updates (``outlets:``) only its own team's assets, or URIs;
- a pipeline is scheduled on its own team's assets, on URIs, and on another team's only when
  ``teams.<team>.consume_assets_from`` lists that team;
- a sensor watches its team's area of the store, ``s3://<artifacts bucket>/teams/<team>/``
  (a relative ``key:``/``prefix:`` is taken there), or an area ``teams.<team>.sensor_areas``
  grants; its timeout is within ``policy.max_execution_time``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_platform.config import PlatformConfig
from airflow_platform.spec.assets import AssetId, AssetSchedule, WaitFor, resolve, split_url
from airflow_platform.spec.durations import format_duration
from airflow_platform.spec.errors import Problem, did_you_mean
from airflow_platform.spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow_platform.spec.loader import Document

TEAM_AREA = "teams"
"""A team's own area of the store: ``<TEAM_AREA>/<team>/`` in the artifacts bucket (and in
the local artifacts folder for `run --local`)."""
LOCAL_BUCKET = "artifacts"
"""The bucket's folder name in a local run when the config has no object store."""


def team_area(team: str) -> str:
    return f"{TEAM_AREA}/{team}/"


def sensor_location(wait: WaitFor, team: str, config: PlatformConfig) -> tuple[str, str]:
    """``(bucket, key or prefix)`` a sensor of ``team`` watches."""
    bucket, key = split_url(wait.target)
    if bucket is None:
        bucket = config.artifacts.bucket if config.artifacts else LOCAL_BUCKET
        key = team_area(team) + key
    return bucket, key


def local_sensor_path(wait: WaitFor, team: str, config: PlatformConfig, root: Path) -> Path:
    """Where `run --local` looks for a sensor's object: ``<root>/objects/<bucket>/<key>``."""
    bucket, key = sensor_location(wait, team, config)
    return root.joinpath("objects", bucket, *key.split("/"))


def asset_problems(doc: Document, config: PlatformConfig) -> list[Problem]:
    """What a pipeline's outlets, asset schedule and sensors break of the platform's rules."""
    spec = doc.spec
    if not isinstance(spec, PipelineSpec) or "team" in doc.unreliable:
        return []
    team = spec.dag.team
    if team not in config.teams:
        return []  # reported by the policy (unknown team)
    problems: list[Problem] = []
    for task in doc.tasks:
        where = ("tasks", task.group, task.task_id)
        for i, ref in enumerate(task.outlets):
            owner = resolve(ref, team).team
            if owner is not None and owner != team:
                problems.append(
                    doc.source.problem(
                        (*where, "outlets", i),
                        f"'{ref}' is team {owner}'s asset: a task updates only its own team's",
                        f"name it without the team ('{ref.split('/', 1)[1]}'), or let team "
                        f"{owner} produce it",
                    )
                )
        if task.wait_for is not None:
            problems += _sensor_problems(doc, (*where, "wait_for"), task.wait_for, team, config)
    if isinstance(spec.dag.schedule, AssetSchedule):
        problems += _schedule_problems(doc, spec.dag.schedule, team, config)
    return problems


def _schedule_problems(
    doc: Document, schedule: AssetSchedule, team: str, config: PlatformConfig
) -> list[Problem]:
    problems = []
    allowed = config.teams[team].consume_assets_from
    for path, ref in schedule.refs():
        owner = resolve(ref, team).team
        if owner is None or owner == team:
            continue
        where = ("dag", "schedule", *path)
        if owner not in config.teams:
            hint = did_you_mean(owner, config.teams) or f"known teams: {', '.join(config.teams)}"
            problems.append(doc.source.problem(where, f"unknown team '{owner}' in '{ref}'", hint))
        elif owner not in allowed:
            problems.append(
                doc.source.problem(
                    where,
                    f"team {team} may not schedule on team {owner}'s assets "
                    f"(teams.{team}.consume_assets_from: "
                    f"{', '.join(allowed) if allowed else 'none'})",
                    f"ask the platform team to add {owner} to "
                    f"teams.{team}.consume_assets_from in the platform config",
                )
            )
    return problems


def _sensor_problems(
    doc: Document,
    where: tuple[str, ...],
    wait: WaitFor,
    team: str,
    config: PlatformConfig,
) -> list[Problem]:
    problems = []
    field = "key" if wait.key is not None else "prefix"
    bucket, key = split_url(wait.target)
    areas = config.teams[team].sensor_areas
    own = f"s3://{config.artifacts.bucket}/{team_area(team)}" if config.artifacts else None
    url = f"s3://{bucket}/{key}"
    if bucket is not None and not any(url.startswith(a) for a in [*([own] if own else []), *areas]):
        places = ", ".join([*([own] if own else []), *areas]) or "none"
        problems.append(
            doc.source.problem(
                (*where, field),
                f"'{wait.target}' is outside the places the sensors of team {team} may watch "
                f"({places})",
                f"write a key of the team's own area ('{key}'), or ask the platform team to add "
                f"the place to teams.{team}.sensor_areas",
            )
        )
    limit = config.policy.max_execution_time
    if wait.timeout > limit:
        problems.append(
            doc.source.problem(
                (*where, "timeout"),
                f"{format_duration(wait.timeout)} is over the platform's limit of "
                f"{format_duration(limit)} (policy.max_execution_time)",
                "wait less, or schedule the pipeline on an asset the data's producer updates",
            )
        )
    return problems


def airflow_asset(ref: str, team: str) -> Any:
    """The Airflow ``Asset`` that ``ref``, written in a spec of ``team``, names."""
    from airflow.sdk import Asset

    found: AssetId = resolve(ref, team)
    return Asset(name=found.name, uri=found.uri)


def airflow_schedule(schedule: AssetSchedule, team: str) -> Any:
    """The asset expression Airflow schedules on: ``&`` for ``all:``, ``|`` for ``any:``."""
    from airflow.sdk import AssetAll, AssetAny

    def build(node: Any) -> Any:
        if isinstance(node, str):
            return airflow_asset(node, team)
        members = [build(m) for m in node.members]
        return AssetAll(*members) if node.operator == "all" else AssetAny(*members)

    return build(schedule)
