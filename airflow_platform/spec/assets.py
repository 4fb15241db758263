"""Data-aware pipelines as a spec writes them: the assets a task updates (``outlets:``), a
schedule on assets instead of cron (``schedule: {all: [...]}`` / ``{any: [...]}``), and a
task that waits for an object in the store (``wait_for:``).

An asset reference is one of three forms, told apart by their shape alone:

- ``trips-cleaned``: a name of the spec's own team (``analytics/trips-cleaned`` in Airflow);
- ``vision/labels``: a name of the team before the slash (another team's, or the own team's);
- ``s3://landing/trips/``: a URI (any scheme but Airflow's reserved ``airflow``), not owned by
  any team: it names data outside the platform.

A name is always scoped to a team, so two teams' ``trips`` are two assets. Anything else
(``a/b/c``, spaces, ``s3:/x``) is a located error at load time. Schedules nest at most two
levels (``MAX_SCHEDULE_DEPTH``). All of this is data: nothing is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)

from airflow_platform.spec.durations import Duration
from airflow_platform.spec.errors import Problem, shorten

if TYPE_CHECKING:
    from airflow_platform.spec.models import PipelineSpec
    from airflow_platform.spec.yamlsafe import SourceMap

ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
TEAM = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
ASSET_URI = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://\S+")
ASSET_REF = re.compile(
    rf"(?:(?:{TEAM.pattern})/)?{ASSET_NAME.pattern}|{ASSET_URI.pattern.replace('?P<scheme>', '')}"
)
MAX_SCHEDULE_DEPTH = 2
"""``all:``/``any:`` of references and of ``all:``/``any:`` of references: enough for "every
daily input and one of two label sources"; deeper expressions are better split in pipelines."""
MIN_POKE_INTERVAL = timedelta(seconds=5)

# defer_build: a model's validator is built when it is first used, not at import, so that
# `validate` of a job file never pays for the pipeline models (CLI start-up, bench cli_startup).
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True, defer_build=True)


@dataclass(frozen=True, slots=True)
class AssetId:
    """A resolved reference: the owning team (``None`` for a URI) and Airflow's name and URI."""

    team: str | None
    name: str
    uri: str

    @property
    def shown(self) -> str:
        """How messages and `run --local` name it: ``analytics/trips-cleaned`` or its URI."""
        return self.name


PLATFORM_SCHEME = "airflow-platform"
"""The URI scheme of team-scoped assets: ``airflow-platform://<team>/<name>``."""


def resolve(ref: str, team: str) -> AssetId:
    """The asset ``ref`` names, written in a spec of ``team`` (``ref`` is already checked)."""
    if ASSET_URI.fullmatch(ref):
        return AssetId(None, ref, ref)
    owner, _, name = ref.rpartition("/")
    owner = owner or team
    return AssetId(owner, f"{owner}/{name}", f"{PLATFORM_SCHEME}://{owner}/{name}")


def _check_ref(value: str) -> str:
    uri = ASSET_URI.fullmatch(value)
    if uri and uri["scheme"] in ("airflow", PLATFORM_SCHEME):
        raise ValueError(
            f"'{shorten(value)}': the scheme '{uri['scheme']}://' is reserved; write the asset "
            "by name ('trips-cleaned', or 'analytics/trips-cleaned' for a team's)"
        )
    if not ASSET_REF.fullmatch(value):
        raise ValueError(
            f"'{shorten(value)}' is not an asset reference: write a name of your team "
            "('trips-cleaned': lowercase letters, digits, '-', '_', '.'), a team's asset "
            "('vision/labels') or a URI ('s3://landing/trips/')"
        )
    return value


AssetRef = Annotated[
    str,
    AfterValidator(_check_ref),
    WithJsonSchema({"type": "string", "pattern": f"^(?:{ASSET_REF.pattern})$"}),
]


_REF: TypeAdapter[str] = TypeAdapter(AssetRef)


class _Either(BaseModel):
    """``all:`` or ``any:``, exactly one."""

    @model_validator(mode="after")
    def _one(self) -> _Either:
        given = [n for n in ("all", "any") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `all:` (every asset updated) and `any:` (one of them "
                "updated), e.g. `{all: [trips-cleaned, vision/labels]}`"
            )
        return self

    @property
    def members(self) -> list[Any]:
        return list(getattr(self, "all", None) or getattr(self, "any", None) or [])

    @property
    def operator(self) -> str:
        return "all" if getattr(self, "all", None) is not None else "any"


class AssetGroup(_Either):
    """A nested ``all:`` / ``any:`` of asset references."""

    model_config = _STRICT

    all: list[AssetRef] | None = Field(
        default=None, min_length=1, description="Every one of these assets updated."
    )
    any: list[AssetRef] | None = Field(
        default=None, min_length=1, description="Any one of these assets updated."
    )


def _ref_or_group(value: Any, _handler: Any) -> Any:
    # Chosen by shape, so an error points into the one form written (a union would report
    # both, under pydantic's names for the members).
    if isinstance(value, dict):
        return AssetGroup.model_validate(value)
    if isinstance(value, list):
        raise ValueError(
            "a list inside the schedule must be under `all:` or `any:`, e.g. "
            "`{any: [labels, vision/labels]}`"
        )
    return _REF.validate_python(value)


Member = Annotated[AssetRef | AssetGroup, WrapValidator(_ref_or_group)]


class AssetSchedule(_Either):
    """Run the pipeline when assets are updated (Airflow's asset-triggered schedule)."""

    model_config = _STRICT

    all: list[Member] | None = Field(
        default=None,
        min_length=1,
        description="Run once every one of these is updated (since the last run).",
        examples=[["trips-cleaned", "vision/labels"]],
    )
    any: list[Member] | None = Field(
        default=None,
        min_length=1,
        description="Run when any one of these is updated.",
        examples=[["trips-cleaned", {"all": ["a", "b"]}]],
    )

    def refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every reference, with its path relative to the schedule."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for i, member in enumerate(self.members):
            if isinstance(member, AssetGroup):
                out += [((self.operator, i, member.operator, j), r) for j, r in enumerate(member.members)]  # fmt: skip
            else:
                out.append(((self.operator, i), member))
        return out


def split_url(value: str) -> tuple[str | None, str]:
    """``(bucket, key)`` of an ``s3://`` URL; ``(None, value)`` for a key of the team's area."""
    if value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        return bucket, key
    return None, value


def _check_object_key(value: str) -> str:
    bucket, key = split_url(value)
    if bucket == "" or (bucket is not None and not key):
        raise ValueError(f"'{shorten(value)}' is not an object: write s3://<bucket>/<key>")
    if not key or key.startswith("/") or any(p in (".", "..") for p in key.split("/")):
        raise ValueError(
            f"'{shorten(value)}' is not an object key: write a key inside your team's area "
            "('trips/2026-12-03.csv') or an s3://<bucket>/<key> URL"
        )
    return value


def _check_timeout(value: timedelta) -> timedelta:
    if value.total_seconds() < 1:
        raise ValueError("the sensor's timeout must be at least one second, e.g. '2 hours'")
    return value


def _check_poke(value: timedelta) -> timedelta:
    if value < MIN_POKE_INTERVAL:
        raise ValueError(
            "look no more often than every 5 seconds (each look asks the store), e.g. '30 seconds'"
        )
    return value


ObjectKey = Annotated[str, AfterValidator(_check_object_key)]


class WaitFor(BaseModel):
    """A sensor: the task waits for an object (or any object under a prefix) to appear in the
    platform's object store, deferred, so it holds no worker slot while it waits."""

    model_config = _STRICT

    key: ObjectKey | None = Field(
        default=None,
        description="The object to wait for: a key inside the team's area of the store "
        "(`teams/<team>/` of the artifacts bucket), or an `s3://<bucket>/<key>` URL inside an "
        "area the platform allows the team (`teams.<team>.sensor_areas`).",
        examples=["trips/_SUCCESS", "s3://landing/analytics/trips.csv"],
    )
    prefix: ObjectKey | None = Field(
        default=None,
        description="Wait for any object under this prefix instead of one key (same places "
        "as `key`).",
        examples=["trips/2026-12/"],
    )
    timeout: Annotated[Duration, AfterValidator(_check_timeout)] = Field(
        description="How long to wait before the task fails (at most the platform's "
        "`policy.max_execution_time`).",
        examples=["2 hours"],
    )
    poke_interval: Annotated[Duration, AfterValidator(_check_poke)] = Field(
        default=timedelta(minutes=1),
        description="How often to look (at least 5 seconds).",
        examples=["30 seconds"],
    )

    @model_validator(mode="after")
    def _one_target(self) -> WaitFor:
        if (self.key is None) == (self.prefix is None):
            raise ValueError(
                "give exactly one of `key:` (one object) and `prefix:` (any object under it), "
                "e.g. `{key: trips/_SUCCESS, timeout: 2 hours}`"
            )
        if self.poke_interval > self.timeout:
            raise ValueError("`poke_interval` is longer than `timeout`: it would look only once")
        return self

    @property
    def target(self) -> str:
        return self.key or self.prefix or ""


SENSOR_REFUSES = (
    "execution_script", "spark", "resource_flavor", "docker_image", "execution_time", "matrix",
    "result", "outputs", "env", "secrets", "kerberos",
)  # fmt: skip
"""Task fields that mean running a job, which a sensor (``wait_for:``) does not."""


def sensor_layout_problems(spec: PipelineSpec, source: SourceMap) -> list[Problem]:
    """A ``wait_for:`` task that also sets what only a job has (a script, a flavor, …)."""
    problems: list[Problem] = []
    for group, name, task in spec.task_items():
        if task.wait_for is None:
            continue
        for field_name in SENSOR_REFUSES:
            if getattr(task, field_name) not in (None, {}, []):
                problems.append(
                    source.problem(
                        ("tasks", group, name, field_name),
                        f"task '{name}' is a sensor (`wait_for:`): it runs no job, so it has "
                        f"no `{field_name}`",
                        f"remove `{field_name}`, or move the work to a task that depends on "
                        f"'{name}'",
                        key=True,
                    )
                )
    return problems
