"""Generated keys: valid, never in plain values, replaceable by named Secrets. That they
survive `helm upgrade` byte for byte is proven against a real API server in test_install.py,
since `helm template` cannot look up existing objects."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.fernet import Fernet

from tests.chart.render import COMPONENTS, FULLNAME, NAMESPACE, by_kind, find, render_chart

pytestmark = pytest.mark.chart

GENERATED = {
    "fernetKeySecretName": (f"{FULLNAME}-fernet-key", "fernet-key"),
    "jwtSecretName": (f"{FULLNAME}-jwt-secret", "jwt-secret"),
    "apiSecretKeySecretName": (f"{FULLNAME}-api-secret-key", "api-secret-key"),
    "uiPasswordsSecretName": (f"{FULLNAME}-ui-passwords", "passwords.json"),
}


def _secret_value(docs: list[dict], name: str, key: str) -> bytes:
    return base64.b64decode(find(docs, "Secret", name, NAMESPACE)["data"][key])


def test_generated_fernet_key_is_a_valid_fernet_key() -> None:
    """Airflow refuses to start with a malformed fernet key; the generated one works."""
    key = _secret_value(render_chart(), f"{FULLNAME}-fernet-key", "fernet-key")
    token = Fernet(key).encrypt(b"connection password")
    assert Fernet(key).decrypt(token) == b"connection password"


@pytest.mark.parametrize(("name", "key"), GENERATED.values(), ids=GENERATED.keys())
def test_each_key_is_generated_when_no_secret_is_named(name: str, key: str) -> None:
    """By default the chart generates every key, long and random."""
    value = _secret_value(render_chart(), name, key)
    assert len(value) >= 24
    # Another release renders other values: nothing is a constant baked into the chart.
    other = render_chart(None, None, name="other")
    other_name = name.replace(FULLNAME, "other-airflow-platform")
    assert _secret_value(other, other_name, key) != value


def test_ui_passwords_cover_every_configured_user() -> None:
    """The simple auth manager's passwords file has one password per user in auth.users."""
    docs = render_chart({"auth": {"users": ["alice:admin", "bob:viewer"]}})
    passwords = json.loads(_secret_value(docs, f"{FULLNAME}-ui-passwords", "passwords.json"))
    assert set(passwords) == {"alice", "bob"}
    assert all(len(p) == 24 for p in passwords.values())


@pytest.mark.parametrize(("setting", "generated"), GENERATED.items(), ids=GENERATED.keys())
def test_named_secret_replaces_the_generated_one(setting: str, generated: tuple[str, str]) -> None:
    """secrets.<x>SecretName points the components at an existing Secret and generates nothing."""
    name, _key = generated
    docs = render_chart({"secrets": {setting: "from-vault"}})
    assert name not in [d["metadata"]["name"] for d in by_kind(docs, "Secret")]
    references = json.dumps([d for d in docs if d["kind"] == "Deployment"])
    assert '"from-vault"' in references
    assert f'"{name}"' not in references


@pytest.mark.parametrize("component", COMPONENTS)
def test_components_reference_keys_without_embedding_them(component: str) -> None:
    """No key or password appears in a Deployment: only Secret references."""
    docs = render_chart()
    secrets = [
        base64.b64decode(v).decode() for d in by_kind(docs, "Secret") for v in d["data"].values()
    ]
    deployment = json.dumps(find(docs, "Deployment", f"{FULLNAME}-{component}"))
    for value in secrets:
        assert value not in deployment
