"""Fixtures of the Kerberos tests: a real KDC for the session and a platform config that maps
the teams to its principals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_platform.config import PlatformConfig
from tests.kerberos.kdc import Kdc, KerberosToolMissingError
from tests.kerberos.platform import kerberized_config


@pytest.fixture(scope="session")
def kdc() -> Iterator[Kdc]:
    """krb5kdc on a free loopback port with a temporary realm; stopped and removed at the end."""
    server = Kdc()
    try:
        server.start()
    except KerberosToolMissingError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def krb_config(kdc: Kdc) -> PlatformConfig:
    """The packaged platform config plus Kerberos: the KDC's realm and krb5.conf, and the
    teams analytics and vision mapped to their principals and keytab Secrets."""
    return kerberized_config(kdc.realm, kdc.krb5_conf_text())
