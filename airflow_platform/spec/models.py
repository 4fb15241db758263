"""The job and pipeline specs a scientist writes, as pydantic models.

These models are the single description of the spec format: the loader validates with them,
the JSON Schema for editors is generated from them, and the docs tables come from their
``Field`` descriptions. Policy (what the platform allows) lives in ``airflow_platform.policy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from airflow_platform.spec.assets import AssetRef, AssetSchedule, WaitFor
from airflow_platform.spec.conditions import Condition, Matrix, ResultKey, ResultType
from airflow_platform.spec.durations import EXAMPLES as DURATION_EXAMPLES
from airflow_platform.spec.durations import Duration
from airflow_platform.spec.errors import did_you_mean, shorten
from airflow_platform.spec.notebooks import NotebookParameters, NotebookPath
from airflow_platform.spec.params import Params

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
TASK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLATFORM_ENV_PREFIX = "AIRFLOW_PLATFORM_"
PLATFORM_ENV_NAMES = ("KRB5CCNAME", "KRB5_CONFIG", "HOME", "TMPDIR")
"""Environment variables the platform sets in every job pod (with ``PLATFORM_ENV_PREFIX``):
a spec's ``env`` and ``secrets`` may not set them."""
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_WHITESPACE = re.compile(r"\s")  # the same characters as str.isspace()
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#LW-]+")
SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly",
                    "@quarterly", "@yearly", "@annually")  # fmt: skip


def platform_env(name: str) -> bool:
    """Whether the platform sets ``name`` itself (so a spec may not)."""
    return name.startswith(PLATFORM_ENV_PREFIX) or name in PLATFORM_ENV_NAMES


def dns_label_from(text: str) -> str:
    """``text`` made a DNS-1123 label as far as it can be (may come out empty)."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")


def _dns_label(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not DNS_LABEL.fullmatch(value):
            suggestion = dns_label_from(value)
            hint = f"; try '{suggestion}'" if suggestion and DNS_LABEL.fullmatch(suggestion) else ""
            raise ValueError(
                f"'{shorten(value)}' is not a valid {what}: use lowercase letters, digits and '-', "
                f"start and end with a letter or digit, at most 63 characters{hint}"
            )
        return value

    return AfterValidator(check)


def _check_script(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("the script is empty: give a shell command, e.g. 'python train.py'")
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("the command list is empty: e.g. ['python', 'train.py']")
        if not all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        ):
            raise ValueError("every item of the command list must be a string")
        return [str(item) for item in value]
    raise ValueError(
        "expected a shell command (a string, run by /bin/sh -c) or a command list "
        "(exec form, e.g. ['python', 'train.py'])"
    )


def _check_schedule(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("@"):
        if text not in SCHEDULE_PRESETS:
            close = did_you_mean(text, SCHEDULE_PRESETS)
            raise ValueError(
                f"unknown schedule preset '{shorten(text)}'; {close + ' ' if close else ''}"
                f"use one of {', '.join(SCHEDULE_PRESETS)} or a cron expression like '0 6 * * *'"
            )
        return text
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(
            f"'{shorten(text)}' is not a cron expression (5 fields: minute hour day month weekday) "
            "or a preset like '@daily'; e.g. '0 6 * * *' for 06:00 every day"
        )
    for field_text, (name, low, high, names) in zip(fields, _CRON_RANGES, strict=True):
        problem = _cron_field_problem(field_text, name, low, high, names)
        if problem:
            raise ValueError(
                f"'{text}' is not a valid cron expression: {problem}; "
                "e.g. '0 6 * * *' for 06:00 every day"
            )
    return text


_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_CRON_RANGES: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
# Extensions croniter (Airflow's cron parser) accepts: the last day of the month (L, also as a
# range's end, 1-L), the weekday nearest a day (15W), the nth weekday of the month (1#2, mon#2).
# 15W and 1#2 stand alone in their field (no list, no step), as does `?` (any day); L takes no
# step. tests/unit/test_schedule_croniter.py holds these rules to croniter's own.
_ALONE = {
    "day of month": re.compile(r"\d{1,2}W", re.IGNORECASE),
    "day of week": re.compile(r"([0-7]|[a-z]{3})#[1-5]", re.IGNORECASE),
}


def _cron_field_problem(text: str, name: str, low: int, high: int, names: dict[str, int]) -> str:
    """Why one field of a cron expression is out of range, or an empty string."""
    day_field = name.startswith("day of")
    alone = _ALONE.get(name)
    if (day_field and text == "?") or (alone and alone.fullmatch(text)):
        if "#" in text and text.split("#")[0].upper() not in names and not text[0].isdigit():
            return f"'{text.split('#')[0]}' is not a {name} ({low}-{high})"
        return ""
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            return f"the step '/{step}' of the {name} field must be a positive whole number"
        if base == "*":
            continue
        if (day_field and "?" in base) or (alone and alone.fullmatch(base)):
            return f"'{base}' must be the whole {name} field (no list, no step)"
        if name == "day of month" and base.upper() == "L":
            if slash:
                return f"'L' (the last day) takes no step in the {name} field"
            continue
        first, dash, last = base.partition("-")
        if dash and name == "day of month" and last.upper() == "L":
            last = str(high)  # 1-L: from the 1st to the last day of the month
        for part in (first, last) if dash else (first,):
            value = int(part) if part.isdigit() else names.get(part.upper())
            if value is None:
                return f"'{part}' is not a {name} ({low}-{high})"
            if not low <= value <= high:
                return f"{part} is out of range for the {name} field ({low}-{high})"
    return ""


def _check_env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        suggestion = re.sub(r"[^A-Za-z0-9_]+", "_", value).strip("_").upper()
        if suggestion[:1].isdigit():
            suggestion = "_" + suggestion
        hint = f"; try '{suggestion}'" if suggestion and ENV_NAME.fullmatch(suggestion) else ""
        raise ValueError(
            f"'{shorten(value)}' is not a valid environment variable name: use letters, digits "
            "and '_', "
            f"not starting with a digit{hint}"
        )
    return value


def _check_secret_key(value: str) -> str:
    if not SECRET_KEY.fullmatch(value):
        raise ValueError(
            f"'{shorten(value)}' is not a valid Secret key: use letters, digits, '-', '_' and '.', "
            "at most 253 characters"
        )
    return value


def _check_image(value: str) -> str:
    if not value or _WHITESPACE.search(value):
        raise ValueError(
            f"'{shorten(value)}' is not an image reference, e.g. registry.internal/team/app:1.0"
        )
    return value


def _airflow_id(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not TASK_NAME.fullmatch(value):
            suggestion = re.sub(r"[^A-Za-z0-9_-]+", "_", value).strip("_-")[:100]
            hint = f"; try '{suggestion}'" if suggestion and TASK_NAME.fullmatch(suggestion) else ""
            raise ValueError(
                f"'{shorten(value)}' is not a valid {what} name: use letters, digits, '_' and '-', "
                f"not starting with '-', at most 100 characters{hint}"
            )
        return value

    return AfterValidator(check)


def _check_depends(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("lists a task more than once")
    return value


def _whole(regex: re.Pattern[str]) -> str:
    """``regex`` as a JSON Schema pattern, which matches anywhere unless anchored."""
    return f"^(?:{regex.pattern})$"


# The JSON Schema (for editors) carries the shape of each checked string as a pattern built
# from the regexes the validators use; the validators stay the authority and give the message.
_DNS_NAME_SCHEMA = WithJsonSchema({"type": "string", "pattern": _whole(DNS_LABEL)})
Name = Annotated[str, _dns_label("name"), _DNS_NAME_SCHEMA]
TeamName = Annotated[str, _dns_label("team name"), _DNS_NAME_SCHEMA]
ExecutionScript = Annotated[
    str | list[str],
    BeforeValidator(_check_script),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"\S"},
                # numbers in the list are taken as their text, as in `env`
                {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
            ]
        }
    ),
]
_CRON = f"(?:{_CRON_FIELD.pattern})"
Schedule = Annotated[
    str | None,
    AfterValidator(_check_schedule),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": rf"^\s*(?:{'|'.join(SCHEDULE_PRESETS)})\s*$"},
                {"type": "string", "pattern": rf"^\s*{_CRON}(?:\s+{_CRON}){{4}}\s*$"},
                {"type": "null"},
            ]
        }
    ),
]
_CRON_SCHEDULE: TypeAdapter[str | None] = TypeAdapter(Schedule)


def _cron_or_assets(value: Any, _handler: Any) -> Any:
    # Chosen by shape, so an error points into the one form written (a union would report
    # both, under pydantic's names for its members).
    if isinstance(value, dict):
        return AssetSchedule.model_validate(value)
    return _CRON_SCHEDULE.validate_python(value)


PipelineSchedule = Annotated[Schedule | AssetSchedule, WrapValidator(_cron_or_assets)]
EnvName = Annotated[
    str,
    AfterValidator(_check_env_name),
    WithJsonSchema({"type": "string", "pattern": _whole(ENV_NAME)}),
]
_PLATFORM_ENV = f"^(?:{PLATFORM_ENV_PREFIX}.*|{'|'.join(PLATFORM_ENV_NAMES)})$"
Env = Annotated[
    dict[EnvName, str],
    WithJsonSchema(
        {
            "type": "object",
            "patternProperties": {_whole(ENV_NAME): {"type": ["string", "number"]}},
            "propertyNames": {"not": {"pattern": _PLATFORM_ENV}},
            "additionalProperties": False,
        }
    ),
]
Image = Annotated[str, AfterValidator(_check_image)]


def _check_glob(value: str) -> str:
    parts = value.split("/")
    if not value.strip() or value.startswith("/") or ".." in parts:
        raise ValueError(
            f"'{shorten(value)}' is not a glob inside the output folder: give a relative "
            "pattern such as '*.csv' or 'model/**'"
        )
    return value


OutputGlob = Annotated[str, AfterValidator(_check_glob)]

# defer_build: a model's validator is built when it is first used, not at import, so that
# `validate` of a job file never pays for the pipeline models (CLI start-up, bench cli_startup).
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True, defer_build=True)


def _name_optional_in_files(schema: dict[str, Any]) -> None:
    """In a file the name and the team may be left out (the loader takes the file name and
    the team's folder), so the JSON Schema for editors must not require them; the model
    itself always has both."""
    required = schema.get("required")
    if isinstance(required, list):
        required[:] = [r for r in required if r not in ("name", "team")]


def _job_schema_extra(schema: dict[str, Any]) -> None:
    """A job file's schema: name and team optional, and exactly one of a script, a notebook or
    a `spark:` block (``JobSpec._script_or_spark``)."""
    _name_optional_in_files(schema)
    schema["oneOf"] = [{"required": [name]} for name in RUNS]


RUNS = ("execution_script", "execution_notebook", "spark")
"""What a job runs: exactly one of these."""

_JOB = ConfigDict(
    extra="forbid",
    coerce_numbers_to_str=True,
    frozen=True,
    json_schema_extra=_job_schema_extra,
)


_NAMED = ConfigDict(
    extra="forbid",
    coerce_numbers_to_str=True,
    frozen=True,
    json_schema_extra=_name_optional_in_files,
)


class SecretRef(BaseModel):
    """A reference to one key of a Kubernetes Secret, exposed to the job as an env var.

    Secrets are never written in a spec: the platform team stores them in the jobs namespace
    and the spec names them.
    """

    model_config = _STRICT

    name: Annotated[str, _dns_label("Secret name")] = Field(
        description="Name of the Kubernetes Secret in the jobs namespace.", examples=["s3-creds"]
    )
    key: Annotated[
        str,
        AfterValidator(_check_secret_key),
        WithJsonSchema({"type": "string", "pattern": f"^{SECRET_KEY.pattern}$"}),
    ] = Field(
        description="Key inside the Secret.",
        examples=["access_key"],
    )
    env: EnvName = Field(
        description="Environment variable the job reads the value from.",
        examples=["AWS_ACCESS_KEY_ID"],
    )


_SPARK_CONF_ALLOWED = (
    "spark.sql.shuffle.partitions",
    "spark.default.parallelism",
    "spark.sql.adaptive.enabled",
    "spark.sql.files.maxPartitionBytes",
    "spark.driver.memoryOverhead",
    "spark.executor.memoryOverhead",
)
"""The Spark conf keys a spec may set; everything else (resources, images, pods, Kerberos)
is the platform's. Memory overheads are carved out of the flavor's memory, never added."""


def _check_spark_conf(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if key not in _SPARK_CONF_ALLOWED:
            close = did_you_mean(key, _SPARK_CONF_ALLOWED)
            hint = f"{close} " if close else ""
            raise ValueError(
                f"'{key}' is not a Spark conf key a spec may set; {hint}allowed: "
                f"{', '.join(_SPARK_CONF_ALLOWED)} (the platform sets resources, images, "
                "pods and Kerberos from the flavors and the team)"
            )
    return value


def _check_application(value: str) -> str:
    if not value.endswith((".py", ".jar")) or value.startswith("/") or ".." in value.split("/"):
        raise ValueError(
            f"'{value}' is not a Spark application: give a .py or .jar file inside the "
            "spec's folder, e.g. 'etl.py'"
        )
    return value


class SparkSpec(BaseModel):
    """A Spark application run in Kubernetes cluster mode: a driver pod sized by the job's
    ``resource_flavor`` and ``executors`` executor pods sized by ``executor_flavor``."""

    model_config = _STRICT

    application: Annotated[str, AfterValidator(_check_application)] = Field(
        description="The application: a .py (PySpark) or .jar file, relative to the spec's "
        "folder (and to the image's working directory on the cluster).",
        examples=["etl.py"],
    )
    main_class: str | None = Field(
        default=None,
        description="Main class of a .jar application.",
        examples=["org.example.Etl"],
    )
    arguments: list[str] = Field(
        default_factory=list,
        description="Arguments passed to the application.",
        examples=[["--input", "data/trips.csv"]],
    )
    executor_flavor: str = Field(
        description="Flavor of each executor pod (the driver uses the job's `resource_flavor`).",
        examples=["cpu-4gb"],
    )
    executors: int = Field(
        ge=1,
        description="How many executors; the policy caps it per team.",
        examples=[2],
    )
    conf: Annotated[dict[str, str], AfterValidator(_check_spark_conf)] = Field(
        default_factory=dict,
        description="Extra Spark conf, from a short allowlist: "
        + ", ".join(_SPARK_CONF_ALLOWED)
        + ".",
        examples=[{"spark.sql.shuffle.partitions": "8"}],
    )


_FIELD_DOCS: dict[str, dict[str, Any]] = {
    "resource_flavor": {
        "description": "A flavor from the platform's catalog (`airflow-platform flavors`): "
        "it fixes CPU, memory and GPUs.",
        "examples": ["cpu-2gb", "gpu-1x-24gb"],
    },
    "docker_image": {
        "description": "The image the job runs in; the policy allows only some registries.",
        "examples": ["registry.internal/vision/train:1.4.2"],
    },
    "execution_time": {
        "description": "Hard time limit: the pod is killed after it (activeDeadlineSeconds).",
        "examples": DURATION_EXAMPLES,
    },
    "execution_script": {
        "description": "What to run: a string is run by `/bin/sh -c`; a list is the exec form.",
        "examples": ["python train.py --epochs 10", ["python", "train.py"]],
    },
    "execution_notebook": {
        "description": "Run a Jupyter notebook (a path relative to the spec's folder) through "
        "papermill instead of a script: `parameters` go into its cell tagged `parameters`, the "
        "executed notebook is kept in `$AIRFLOW_PLATFORM_OUTPUT_DIR`. The image must have "
        "papermill and ipykernel (`airflow-platform/job-notebook` has).",
        "examples": ["report/report.ipynb"],
    },
    "parameters": {
        "description": "Values for the notebook's `parameters` cell (a notebook task only), "
        "injected by papermill as Python literals: numbers, `true`/`false`, text, or lists "
        'of them (`"3"` is a number too, as in `params`). Every name must be assigned in '
        "that cell.",
        "examples": [{"rows": 3, "title": "Weekly report"}],
    },
    "retries": {"description": "How many times a failed run is retried.", "examples": [1]},
    "env": {
        "description": "Plain environment variables (never secrets: use `secrets`).",
        "examples": [{"DATA_PATH": "s3://bucket/train"}],
    },
    "secrets": {
        "description": "Secrets the job reads, by reference to a Kubernetes Secret.",
        "examples": [[{"name": "s3-creds", "key": "access_key", "env": "AWS_ACCESS_KEY_ID"}]],
    },
    "kerberos": {
        "description": "Log in as the team's Kerberos principal: a ticket is obtained from the "
        "team's keytab before the job starts and renewed while it runs (`KRB5CCNAME` points at "
        "it). For a Spark job, the driver logs in from the keytab and Spark renews its tokens.",
        "examples": [True],
    },
    "spark": {
        "description": "Run a Spark application instead of a script: `execution_script` is "
        "then left out, `resource_flavor` sizes the driver.",
        "examples": [{"application": "etl.py", "executor_flavor": "cpu-4gb", "executors": 2}],
    },
    "not_secrets": {
        "description": "Names of `env` variables whose values look like secrets to the platform "
        "but are not (a false alarm); the inline-secret check skips them. "
        "`execution_script` in the list skips the script. Real secrets belong in `secrets`.",
        "examples": [["MODEL_REVISION"]],
    },
    "outputs": {
        "description": "Globs (relative to `$AIRFLOW_PLATFORM_OUTPUT_DIR`, `**` for any "
        "folders) of the files to keep as the task's artifacts; everything the task writes "
        "there is kept when absent. A failed task keeps all it wrote, for debugging.",
        "examples": [["*.csv", "model/**"]],
    },
    "params": {
        "description": "Typed run parameters with defaults, each reaching the job as an "
        "environment variable named after it in upper case (`lr` → `LR`); a run may override "
        "them (`--param lr=0.1`, Airflow's trigger form). Short form `rows: 3`; long form "
        "`rows: {type: number, default: 3, minimum: 1, description: …}`.",
        "examples": [{"rows": 3, "parent": {"type": "string", "default": "WT"}}],
    },
    "keep_failed_pod": {
        "description": "Keep the pod of a failed run for debugging (deleted otherwise).",
        "examples": [False],
    },
}


def _doc(name: str, **extra: Any) -> Any:
    return Field(**_FIELD_DOCS[name], **extra)


class JobSpec(BaseModel):
    """One job: a script in an image, sized by a flavor, bounded by a time limit."""

    model_config = _JOB

    name: Name = Field(
        description="Job name (DNS-1123 label); defaults to the file name.",
        examples=["train-classifier"],
    )
    team: TeamName = Field(
        description="The owning team: the spec's folder, `jobs/<team>/`. Optional in a team's "
        "folder (if given it must match); the policy is checked against it.",
        examples=["vision"],
    )
    resource_flavor: str = _doc("resource_flavor")
    docker_image: Image = _doc("docker_image")
    execution_time: Duration = _doc("execution_time")
    execution_script: ExecutionScript | None = _doc("execution_script", default=None)
    execution_notebook: NotebookPath | None = _doc("execution_notebook", default=None)
    parameters: NotebookParameters = _doc("parameters", default_factory=dict)
    schedule: Schedule = Field(
        default=None,
        description="When to run: a cron expression or a preset such as '@daily'. "
        "Absent means on demand only.",
        examples=["@daily", "0 6 * * *"],
    )
    retries: int = _doc("retries", default=0, ge=0, le=10)
    critical: bool = Field(
        default=False,
        description="A failure pages the on-call (PagerDuty); otherwise it goes to Slack only.",
        examples=[True],
    )
    env: Env = _doc("env", default_factory=dict)
    secrets: list[SecretRef] = _doc("secrets", default_factory=list)
    not_secrets: list[EnvName] = _doc("not_secrets", default_factory=list)
    keep_failed_pod: bool = _doc("keep_failed_pod", default=False)
    kerberos: bool = _doc("kerberos", default=False)
    spark: SparkSpec | None = _doc("spark", default=None)
    outputs: list[OutputGlob] | None = _doc("outputs", default=None)
    params: Params = _doc("params", default_factory=dict)
    notebook_content: SkipJsonSchema[str | None] = Field(default=None, repr=False)
    """The notebook's JSON, read by the loader from ``execution_notebook`` (never written in
    a spec: the loader refuses it there); it travels with the job to the pod."""

    @model_validator(mode="after")
    def _script_or_spark(self) -> JobSpec:
        given = [name for name in RUNS if getattr(self, name) is not None]
        if not given:
            raise ValueError(
                "required field 'execution_script' is missing; give the command to run, "
                "e.g. 'python train.py' (or `execution_notebook:`, or a `spark:` block)"
            )
        if self.parameters and self.execution_notebook is None:
            raise ValueError(
                "`parameters` are for a notebook (`execution_notebook:`); a script reads "
                "`env` or `params`"
            )
        if self.execution_notebook is not None and len(given) > 1:
            other = next(name for name in given if name != "execution_notebook")
            raise ValueError(
                f"a job runs one thing: `execution_notebook` or `{other}`, not both; remove one"
            )
        if self.spark is not None and self.execution_script is not None:
            raise ValueError(
                "a Spark job has no execution_script: its `spark.application` is what runs; "
                "remove execution_script"
            )
        return self


class TaskDefaults(BaseModel):
    """Values every task of the pipeline inherits unless it sets its own."""

    model_config = _STRICT

    resource_flavor: str | None = _doc("resource_flavor", default=None)
    docker_image: Image | None = _doc("docker_image", default=None)
    execution_time: Duration | None = _doc("execution_time", default=None)
    execution_script: ExecutionScript | None = _doc("execution_script", default=None)
    retries: int | None = _doc("retries", default=None, ge=0, le=10)
    env: Env = _doc("env", default_factory=dict)
    secrets: list[SecretRef] = _doc("secrets", default_factory=list)
    not_secrets: list[EnvName] = _doc("not_secrets", default_factory=list)
    keep_failed_pod: bool | None = _doc("keep_failed_pod", default=None)
    kerberos: bool | None = _doc("kerberos", default=None)
    outputs: list[OutputGlob] | None = _doc("outputs", default=None)


TriggerRuleName = Literal[
    "all_success",
    "all_done",
    "all_failed",
    "all_skipped",
    "one_failed",
    "one_success",
    "none_failed",
    "none_failed_min_one_success",
]
"""The Airflow trigger rules a task may choose (the others concern setup and teardown tasks)."""


class TaskSpec(TaskDefaults):
    """One task of a pipeline: a job whose unset fields come from ``dag.defaults``."""

    spark: SparkSpec | None = _doc("spark", default=None)
    execution_notebook: NotebookPath | None = _doc("execution_notebook", default=None)
    parameters: NotebookParameters = _doc("parameters", default_factory=dict)
    depends_on: Annotated[list[str], AfterValidator(_check_depends)] = Field(
        default_factory=list,
        description="Tasks (by name, in any group) that must succeed before this one starts "
        "(see `trigger_rule` for other rules).",
        examples=[["compile_data"]],
    )
    matrix: Matrix | None = Field(
        default=None,
        description="A sweep: the task runs once per combination of these values, in "
        "parallel (Airflow mapped tasks, one pod each), each with its values as environment "
        "variables named after the keys in upper case (`lr` → `LR`). Downstream tasks find "
        "combination i's outputs under `$AIRFLOW_PLATFORM_INPUT_DIR/<task>/<i>/` and every "
        "combination's values in `$AIRFLOW_PLATFORM_INPUT_DIR/<task>/matrix.json`. The "
        "platform caps the combinations (`policy.max_matrix_combinations`).",
        examples=[{"lr": ["0.1", "0.01"], "depth": ["4", "8"]}],
    )
    result: dict[ResultKey, ResultType] = Field(
        default_factory=dict,
        description="The keys (and their types: number, string, boolean) of the small JSON "
        "object the task writes to `$AIRFLOW_PLATFORM_OUTPUT_DIR/result.json`, which "
        "downstream `when:` conditions read. A try that succeeds without writing every key, "
        "of its type, fails.",
        examples=[{"accuracy": "number", "model": "string"}],
    )
    when: Condition | None = Field(
        default=None,
        description="Run only when this condition on upstream tasks' results holds; "
        "otherwise the task is skipped (and its downstream tasks as their `trigger_rule` "
        "says). Airflow shows the check as a task `<task>__when` before it.",
        examples=[{"task": "evaluate", "key": "accuracy", "op": ">", "value": "0.9"}],
    )
    operator_type: str | None = Field(
        default=None,
        description="Run a task type the platform config defines (`task_types:`; README) "
        "instead of a script: the type brings the image and the command, the task gives its "
        "parameters under `with:` and its flavor, time limit, env and secrets as usual.",
        examples=["pg_to_csv"],
    )
    with_: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="The parameters of the task's `operator_type`, checked against the "
        "type's declared parameters (their types, required ones, no unknown keys).",
        examples=[{"table": "trips", "columns": ["id", "fare"]}],
    )
    trigger_rule: TriggerRuleName = Field(
        default="all_success",
        description="When the task runs, by its upstream tasks' states (Airflow's trigger "
        "rules): `all_success` (the default), `all_done`, `all_failed`, `all_skipped` (e.g. an "
        "alert when a gated task was skipped), `one_failed` (e.g. an alert when one failed), "
        "`one_success`, `none_failed`, `none_failed_min_one_success`.",
        examples=["all_skipped"],
    )
    outlets: list[AssetRef] = Field(
        default_factory=list,
        description="Assets a successful run of the task updates (Airflow asset events), which "
        "pipelines can be scheduled on: a name of the team (`trips-cleaned`, which is "
        "`<team>/trips-cleaned` to other teams) or a URI (`s3://landing/trips/`).",
        examples=[["trips-cleaned"]],
    )
    wait_for: WaitFor | None = Field(
        default=None,
        description="Make the task a sensor: instead of running a script it waits, deferred "
        "(holding no worker slot), for an object in the platform's object store; no "
        "`execution_script`, flavor or image is needed.",
        examples=[{"key": "trips/_SUCCESS", "timeout": "2 hours", "poke_interval": "1 minute"}],
    )


class DagInfo(BaseModel):
    """The pipeline as a whole: its owner, schedule and the defaults of its tasks."""

    model_config = _NAMED

    name: Name = Field(
        description="Pipeline (DAG) name; defaults to the file name.",
        examples=["strain-normalization"],
    )
    team: TeamName = Field(
        description="The owning team: the spec's folder, `jobs/<team>/`. Optional in a team's "
        "folder (if given it must match).",
        examples=["analytics"],
    )
    schedule: PipelineSchedule = Field(
        default=None,
        description="A cron expression or preset, or assets: `{all: [...]}` runs once every "
        "one of them is updated, `{any: [...]}` when one is (nested once at most, e.g. "
        "`{all: [trips-cleaned, {any: [labels, vision/labels]}]}`); absent means on demand only.",
        examples=["0 6 * * *", {"all": ["trips-cleaned"]}],
    )
    critical: bool = Field(
        default=False,
        description="A failed task pages the on-call (PagerDuty); otherwise Slack only.",
    )
    retries: int = _doc("retries", default=0, ge=0, le=10)
    defaults: TaskDefaults = Field(
        default_factory=TaskDefaults, description="Fields every task inherits."
    )
    params: Params = _doc("params", default_factory=dict)


_AIRFLOW_ID_SCHEMA = WithJsonSchema({"type": "string", "pattern": _whole(TASK_NAME)})
TaskName = Annotated[str, _airflow_id("task"), _AIRFLOW_ID_SCHEMA]
GroupName = Annotated[str, _airflow_id("group"), _AIRFLOW_ID_SCHEMA]
# A key that is not a task or group name is refused by the schema too (additionalProperties).
_NAMES_ONLY: dict[str, Any] = {"additionalProperties": False}
Group = Annotated[dict[TaskName, TaskSpec], Field(min_length=1, json_schema_extra=_NAMES_ONLY)]


class JobFile(BaseModel):
    """A file holding one job."""

    model_config = _STRICT

    job: JobSpec = Field(description="The job.")


@dataclass(frozen=True, slots=True)
class PipelineTask:
    """A pipeline task resolved against the defaults: the job it runs and where it sits."""

    group: str
    task_id: str
    job: JobSpec
    depends_on: tuple[str, ...]
    matrix: Matrix | None = None
    result: Mapping[str, str] = field(default_factory=dict)
    when: Condition | None = None
    trigger_rule: str = "all_success"
    operator_type: str | None = None
    with_: Mapping[str, Any] = field(default_factory=dict)
    """The task type's parameters as written (checked by ``airflow_platform.tasktypes``)."""
    outlets: tuple[str, ...] = ()
    wait_for: WaitFor | None = None

    @property
    def qualified_id(self) -> str:
        """The Airflow task id: ``<group>.<task>``."""
        return f"{self.group}.{self.task_id}"


class PipelineSpec(BaseModel):
    """A pipeline: a DAG of jobs grouped into stages."""

    model_config = _STRICT

    dag: DagInfo = Field(
        description="The pipeline's name, owner, schedule and defaults.",
        examples=[{"team": "analytics", "schedule": "0 6 * * *"}],
    )
    tasks: Annotated[dict[GroupName, Group], Field(min_length=1, json_schema_extra=_NAMES_ONLY)] = (
        Field(
            description="Groups of tasks (each group an Airflow task group); task names are unique "
            "across groups.",
        )
    )

    def task_items(self) -> Iterator[tuple[str, str, TaskSpec]]:
        for group, tasks in self.tasks.items():
            for name, task in tasks.items():
                yield group, name, task


Spec = JobSpec | PipelineSpec
