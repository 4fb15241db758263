"""The bumper rails: what the platform allows a job to ask for.

``check_job`` is the only place that decides whether a job may run: `validate`, the DAG
factory (through ``airflow_platform.validation``) and both operators at task start call it,
and the API server's admission policy (``airflow_platform.admission``) is generated from the
same rules (``image_allowed``'s prefixes, the flavors each team may use).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from airflow_platform import inline_secrets
from airflow_platform.config import Flavor, PlatformConfig, parse_memory
from airflow_platform.quantity import parse_quantity
from airflow_platform.spec.durations import format_duration
from airflow_platform.spec.errors import did_you_mean
from airflow_platform.spec.models import (
    PLATFORM_ENV_NAMES,
    PLATFORM_ENV_PREFIX,
    JobSpec,
    platform_env,
)
from airflow_platform.spec.params import env_name

SCRIPT_OPT_OUT = "execution_script"
"""The `not_secrets` entry that skips the inline-secret check of the script."""

# The job fields each rule reads: a rule is skipped when one of them could not be read.
RULE_FIELDS: dict[str, frozenset[str]] = {
    "unknown_team": frozenset({"team"}),
    "unknown_flavor": frozenset({"resource_flavor"}),
    "flavor_not_allowed": frozenset({"team", "resource_flavor"}),
    "over_team_quota": frozenset({"team", "resource_flavor"}),
    "image_not_allowed": frozenset({"docker_image"}),
    "image_not_pinned": frozenset({"docker_image"}),
    "execution_time": frozenset({"execution_time", "resource_flavor"}),
    "secret_inline": frozenset({"env", "execution_script", "spark", "not_secrets", "params"}),
    "env_reserved": frozenset({"env", "secrets"}),
    "env_conflict": frozenset({"env", "secrets"}),
    "param_env_conflict": frozenset({"env", "secrets", "params"}),
    "kerberos_not_configured": frozenset({"team", "kerberos"}),
    "spark_not_allowed": frozenset({"team", "spark"}),
    "spark_executors": frozenset({"team", "spark"}),
    "spark_flavor": frozenset({"team", "spark", "resource_flavor"}),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule a job breaks: the field (relative to the job), what is wrong, how to fix it."""

    field: tuple[str, ...]
    message: str
    hint: str
    reason: str


def check_job(job: JobSpec, config: PlatformConfig) -> list[Violation]:
    """Every policy rule ``job`` breaks under ``config``; empty when it may run."""
    out: list[Violation] = []
    policy = config.policy
    if job.team not in config.teams:
        hint = did_you_mean(job.team, config.teams) or f"known teams: {', '.join(config.teams)}"
        out.append(Violation(("team",), f"unknown team '{job.team}'", hint, "unknown_team"))
    flavor = config.flavors.get(job.resource_flavor)
    if flavor is None:
        out.append(_unknown_flavor(job, config))
    elif job.team in config.teams and not flavor.usable_by(job.team):
        allowed = config.flavors_for(job.team)
        out.append(
            Violation(
                ("resource_flavor",),
                f"flavor '{job.resource_flavor}' is not available to team '{job.team}' "
                f"(only to {', '.join(flavor.teams or ())})",
                f"flavors for {job.team}: {', '.join(sorted(allowed))}",
                "flavor_not_allowed",
            )
        )
    elif job.team in config.teams:
        out.extend(_quota_violations(job, flavor, config))
    out.extend(_image_violations(job, config))
    limit = policy.max_execution_time
    limit_source = "the platform's limit"
    if flavor is not None and flavor.max_execution_time and flavor.max_execution_time < limit:
        limit = flavor.max_execution_time
        limit_source = f"flavor {job.resource_flavor}'s limit"
    if job.execution_time.total_seconds() < 1:
        out.append(
            Violation(
                ("execution_time",),
                "must be at least one second",
                "e.g. '30 minutes'",
                "execution_time",
            )
        )
    elif job.execution_time > limit:
        out.append(
            Violation(
                ("execution_time",),
                f"{format_duration(job.execution_time)} is over {limit_source} of "
                f"{format_duration(limit)}",
                "ask for less time, or split the job into a pipeline of shorter tasks",
                "execution_time",
            )
        )
    out.extend(_env_violations(job))
    out.extend(_inline_secret_violations(job))
    if job.team in config.teams:
        out.extend(_kerberos_violations(job, config))
        out.extend(_spark_violations(job, config))
    return out


def _over_quota(flavor: Flavor, quota: Mapping[str, str]) -> list[str]:
    """What one pod of ``flavor`` requests beyond ``quota`` (``cpu 8 > 4``), by resource."""
    return [
        f"{resource} {amount} > {quota[resource]}"
        for resource, amount in flavor.requests().items()
        if resource in quota and parse_quantity(amount) > parse_quantity(quota[resource])
    ]


def _quota_violations(job: JobSpec, flavor: Flavor, config: PlatformConfig) -> list[Violation]:
    """A flavor bigger than the team's whole quota could never start: the ResourceQuota would
    refuse its pod, and Kueue would hold it forever, so it is refused here, by name."""
    quota = config.teams[job.team].quota
    if not quota:
        return []
    over = _over_quota(flavor, quota)
    if not over:
        return []
    fitting = [
        name
        for name in config.flavors_for(job.team)
        if not _over_quota(config.flavors[name], quota)
    ]
    hint = (
        f"flavors that fit: {', '.join(fitting)}" if fitting else "no flavor fits the quota"
    ) + f"; or ask the platform team to raise teams.{job.team}.quota"
    return [
        Violation(
            ("resource_flavor",),
            f"flavor '{job.resource_flavor}' needs more than team {job.team}'s whole quota "
            f"(teams.{job.team}.quota: {', '.join(over)}), so it could never start",
            hint,
            "over_team_quota",
        )
    ]


# A size written into a flavor name: `ram-256gb`, `gpu-8x-24gb`, `cpu-2Gi`.
_NAMED_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(?:g|gb|gi|gib)(?![a-z])", re.IGNORECASE)
_NAMED_GPUS = re.compile(r"(?:^|-)(\d+)\s*x(?:-|$)", re.IGNORECASE)


def _unknown_flavor(job: JobSpec, config: PlatformConfig) -> Violation:
    """An unknown flavor, with the closest name — or, when its name asks for more memory or
    GPUs than any flavor the team may use has, says so and names the largest (a did-you-mean
    to a smaller flavor would only move the failure to an OOM at run time)."""
    name = job.resource_flavor
    known = f"unknown flavor '{name}'; known: {', '.join(config.flavor_names())}"
    usable = config.flavors_for(job.team) if job.team in config.teams else list(config.flavors)
    memory = _NAMED_MEMORY.findall(name)
    gpus = _NAMED_GPUS.findall(name)
    if gpus:
        memory = []  # in a GPU flavor's name the size is the GPU's memory, not the pod's
    asked_memory = float(memory[-1]) * 2**30 if memory else 0.0
    asked_gpus = int(gpus[0]) if gpus else 0
    if usable and (asked_memory or asked_gpus):
        cpu_flavors = [n for n in usable if config.flavors[n].gpu is None] or usable
        most_memory = max(cpu_flavors, key=lambda n: (parse_memory(config.flavors[n].memory), n))
        gpu_flavors = [n for n in usable if config.flavors[n].gpu is not None]
        most_gpus = max(gpu_flavors, key=_gpu_count(config), default=None)
        largest = None
        if asked_gpus and (most_gpus is None or asked_gpus > _gpu_count(config)(most_gpus)):
            largest = most_gpus or most_memory
            what = f"{asked_gpus} GPUs"
        elif asked_memory > parse_memory(config.flavors[most_memory].memory):
            largest = most_memory
            what = f"{memory[-1]} GB of memory"
        if largest is not None:
            big = config.flavors[largest]
            gpu = f", {big.gpu.count} GPU{'s' * (big.gpu.count != 1)}" if big.gpu else ""
            who = f"team {job.team}" if job.team in config.teams else "any team"
            return Violation(
                ("resource_flavor",),
                f"{known}. No flavor is big enough for {what}: the largest {who} may use is "
                f"{largest} ({big.cpu} CPU, {big.memory}{gpu})",
                "ask the platform team for a bigger flavor (they own the catalog), or split "
                "the work so each task fits",
                "unknown_flavor",
            )
    # Prefer a flavor of the same family (the part before the first '-': cpu, gpu, ram).
    family = name.split("-")[0]
    close = did_you_mean(
        name, [n for n in config.flavors if n.split("-")[0] == family], cutoff=0.5
    ) or did_you_mean(name, config.flavors)
    if asked_memory and usable:
        # A name that asks for a size: the closest name must give at least that much, else
        # the smallest flavor that does is the better advice (`cpu-32gb` is not `cpu-2gb`).
        fits = [
            n
            for n in usable
            if parse_memory(config.flavors[n].memory) >= asked_memory
            and config.flavors[n].gpu is None  # a size-named CPU request: not a GPU node
        ]
        picked = close.split("'")[1] if close and "'" in close else None
        if fits and (picked is None or picked not in fits):
            smallest = min(fits, key=lambda n: (parse_memory(config.flavors[n].memory), n))
            close = (
                f"the smallest flavor with at least {memory[-1]} GB is {smallest} "
                f"({config.flavors[smallest].memory})"
            )
    return Violation(
        ("resource_flavor",),
        known,
        close or "run `airflow-platform flavors` to see the catalog",
        "unknown_flavor",
    )


def _gpu_count(config: PlatformConfig) -> Callable[[str], int]:
    def count(name: str) -> int:
        gpu = config.flavors[name].gpu
        return gpu.count if gpu else 0

    return count


def _kerberos_violations(job: JobSpec, config: PlatformConfig) -> list[Violation]:
    if not job.kerberos:
        return []
    if config.kerberos is None:
        problem = "the platform has no Kerberos realm configured"
    elif config.teams[job.team].kerberos is None:
        problem = f"team '{job.team}' has no Kerberos principal"
    else:
        return []
    return [
        Violation(
            ("kerberos",),
            f"{problem}, so the job cannot log in with Kerberos",
            "ask the platform team to map the team to a principal and keytab Secret "
            "(teams.<team>.kerberos), or remove `kerberos: true`",
            "kerberos_not_configured",
        )
    ]


def _spark_violations(job: JobSpec, config: PlatformConfig) -> list[Violation]:
    spark = job.spark
    if spark is None:
        return []
    bounds = config.teams[job.team].spark
    if bounds is None:
        return [
            Violation(
                ("spark",),
                f"team '{job.team}' may not run Spark jobs",
                "ask the platform team to give the team Spark bounds (teams.<team>.spark)",
                "spark_not_allowed",
            )
        ]
    out: list[Violation] = []
    if spark.executors > bounds.max_executors:
        out.append(
            Violation(
                ("spark", "executors"),
                f"{spark.executors} executors is over team {job.team}'s cap of "
                f"{bounds.max_executors}",
                f"ask for at most {bounds.max_executors} executors, or a bigger executor flavor",
                "spark_executors",
            )
        )
    checks = (
        (("resource_flavor",), job.resource_flavor, bounds.driver_flavors, "the driver"),
        (("spark", "executor_flavor"), spark.executor_flavor, bounds.executor_flavors, "executors"),
    )
    for path, flavor_name, allowed, role in checks:
        flavor = config.flavors.get(flavor_name)
        if flavor is None:
            if path[0] == "spark":  # an unknown resource_flavor is reported above
                out.append(
                    Violation(
                        path,
                        f"unknown flavor '{flavor_name}'; known: {', '.join(config.flavor_names())}",
                        did_you_mean(flavor_name, config.flavors)
                        or "run `airflow-platform flavors` to see the catalog",
                        "spark_flavor",
                    )
                )
            continue
        if path[0] == "spark" and not flavor.usable_by(job.team):
            out.append(
                Violation(
                    path,
                    f"flavor '{flavor_name}' is not available to team '{job.team}'",
                    f"flavors for {job.team}: " + ", ".join(sorted(config.flavors_for(job.team))),
                    "spark_flavor",
                )
            )
        elif allowed is not None and flavor_name not in allowed:
            out.append(
                Violation(
                    path,
                    f"flavor '{flavor_name}' is not allowed for {role} of team {job.team}'s "
                    "Spark jobs",
                    f"use one of: {', '.join(allowed)}",
                    "spark_flavor",
                )
            )
    return out


def image_prefixes(prefixes: Iterable[str]) -> list[str]:
    """What an allowed image must start with, so that every prefix ends at a registry or path
    boundary: a registry (``registry.internal``) must be followed by ``/``; a path or
    repository (``registry.internal/vision``) by ``/``, a tag or a digest; a prefix ending
    in ``/`` is one already. The admission policy matches images against the same list."""
    out: list[str] = []
    for prefix in prefixes:
        if prefix.endswith("/"):
            out.append(prefix)
        elif "/" in prefix:
            out += [prefix + "/", prefix + ":", prefix + "@"]
        else:
            out.append(prefix + "/")
    return list(dict.fromkeys(out))


def image_allowed(image: str, prefixes: Iterable[str]) -> bool:
    """Whether ``image`` is under one of the policy's allowed prefixes (see ``image_prefixes``)."""
    return image.startswith(tuple(image_prefixes(prefixes)))


def _image_violations(job: JobSpec, config: PlatformConfig) -> list[Violation]:
    policy = config.policy
    image = job.docker_image
    out: list[Violation] = []
    if not image_allowed(image, policy.allowed_images):
        out.append(
            Violation(
                ("docker_image",),
                f"image '{image}' is not from an allowed registry",
                f"use an image under {' or '.join(repr(p) for p in policy.allowed_images)}",
                "image_not_allowed",
            )
        )
    if policy.require_pinned_images:
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not digest and (not tag or tag == "latest"):
            out.append(
                Violation(
                    ("docker_image",),
                    f"image '{image}' is not pinned ({'tag latest' if tag else 'no tag'})",
                    f"name a version, e.g. '{name.rsplit(':', 1)[0] if tag else name}:1.0.0'",
                    "image_not_pinned",
                )
            )
    return out


_RESERVED_HINT = (
    f"the platform sets every {PLATFORM_ENV_PREFIX}* variable and "
    f"{', '.join(PLATFORM_ENV_NAMES)} itself: give yours another name"
)


def _env_violations(job: JobSpec) -> list[Violation]:
    out: list[Violation] = []
    for name in job.env:
        if platform_env(name):
            out.append(
                Violation(
                    ("env", name),
                    f"'{name}' is one of the platform's own variables",
                    _RESERVED_HINT,
                    "env_reserved",
                )
            )
    seen: set[str] = set()
    for i, ref in enumerate(job.secrets):
        if platform_env(ref.env):
            out.append(
                Violation(
                    ("secrets", str(i), "env"),
                    f"'{ref.env}' is one of the platform's own variables",
                    _RESERVED_HINT,
                    "env_reserved",
                )
            )
        elif ref.env in job.env or ref.env in seen:
            out.append(
                Violation(
                    ("secrets", str(i), "env"),
                    f"environment variable '{ref.env}' is set twice",
                    "give each secret its own variable, and don't repeat it under `env`",
                    "env_conflict",
                )
            )
        seen.add(ref.env)
    return out + _param_env_violations(job)


def _param_env_violations(job: JobSpec) -> list[Violation]:
    """A param reaches the job as its upper-case name: `env` or a secret may not set it too."""
    by_env = {env_name(name): name for name in job.params}
    out: list[Violation] = []
    for name in job.env:
        if name in by_env:
            out.append(
                Violation(
                    ("env", name),
                    f"'{name}' is also the variable of param '{by_env[name]}' (params reach "
                    "the job as their upper-case names)",
                    f"remove {name} from `env` (the param's default gives the value), or "
                    "rename the param",
                    "param_env_conflict",
                )
            )
    for i, ref in enumerate(job.secrets):
        if ref.env in by_env:
            out.append(
                Violation(
                    ("secrets", str(i), "env"),
                    f"'{ref.env}' is also the variable of param '{by_env[ref.env]}'",
                    "give the secret another variable, or rename the param",
                    "param_env_conflict",
                )
            )
    return out


def _inline_secret_violations(job: JobSpec) -> list[Violation]:
    """Secrets written into the spec, by value and by name; messages never hold the value."""
    out: list[Violation] = []
    skipped = set(job.not_secrets)
    for name, value in job.env.items():
        why = None if name in skipped or platform_env(name) else inline_secrets.in_env(name, value)
        if why:
            out.append(
                Violation(
                    ("env", name),
                    f"'{name}' {why}: a secret must not be written into the spec",
                    "store it in a Kubernetes Secret and reference it: "
                    f"secrets: [{{name: <secret>, key: <key>, env: {name}}}]; if it is not a "
                    f"secret, list {name} under `not_secrets`",
                    "secret_inline",
                )
            )
    for name, param in job.params.items():
        # A param's default is written in the spec and lands in the job's env like `env` does.
        variable = env_name(name)
        default = param.default
        if not isinstance(default, str) or variable in skipped:
            continue
        why = inline_secrets.in_env(variable, default)
        if why:
            out.append(
                Violation(
                    ("params", name, "default"),
                    f"the default of param '{name}' {why}: a secret must not be written into "
                    "the spec",
                    "store it in a Kubernetes Secret and reference it under `secrets:`; if it "
                    f"is not a secret, list {variable} under `not_secrets`",
                    "secret_inline",
                )
            )
    scripts: list[tuple[tuple[str, ...], str | list[str]]] = []
    if job.execution_script is not None:
        scripts.append((("execution_script",), job.execution_script))
    if job.spark is not None and job.spark.arguments:
        scripts.append((("spark", "arguments"), job.spark.arguments))
    for field, script in scripts:
        why = None if SCRIPT_OPT_OUT in skipped else inline_secrets.in_script(script)
        if why:
            out.append(
                Violation(
                    field,
                    f"the command {why}: a secret must not be written into the spec",
                    "pass secrets through `secrets:` (the job reads them from its environment); "
                    f"if it is not a secret, list {SCRIPT_OPT_OUT} under `not_secrets`",
                    "secret_inline",
                )
            )
    return out
