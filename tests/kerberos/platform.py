"""Platform configs for the Kerberos and Spark tests: the packaged default plus a realm."""

from __future__ import annotations

import os
from typing import Any

from airflow_platform.config import CONFIG_ENV, PlatformConfig, load_config

KRB5_IMAGE = "registry.internal/platform/krb5:1.20.1"


def kerberized_config_data(realm: str, krb5_conf: str, max_executors: int = 4) -> dict[str, Any]:
    """The packaged default config as data, with Kerberos and Spark bounds for the teams."""
    saved = os.environ.pop(CONFIG_ENV, None)
    try:
        data: dict[str, Any] = load_config().model_dump(mode="json", exclude_none=True)
    finally:
        if saved is not None:
            os.environ[CONFIG_ENV] = saved
    data["kerberos"] = {
        "realm": realm,
        "krb5_conf": krb5_conf,
        "krb5_conf_configmap": "airflow-platform-krb5",
        "image": KRB5_IMAGE,
        "renew_interval": "1 hour",
    }
    for team in ("analytics", "vision"):
        data["teams"][team]["kerberos"] = {
            "principal": f"svc-{team}@{realm}",
            "keytab_secret": f"{team}-keytab",
        }
    data["teams"]["analytics"]["spark"] = {
        "max_executors": max_executors,
        "driver_flavors": ["cpu-2gb", "cpu-4gb"],
        "executor_flavors": ["cpu-4gb", "cpu-16gb"],
    }
    return data


def kerberized_config(realm: str, krb5_conf: str, max_executors: int = 4) -> PlatformConfig:
    return PlatformConfig.model_validate(kerberized_config_data(realm, krb5_conf, max_executors))
