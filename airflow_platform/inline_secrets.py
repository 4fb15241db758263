"""Secrets written into a spec instead of referenced: found by their values and names.

A spec is data that many people read (the Airflow UI shows it, git keeps it), so a password
or token in its ``env`` or its script is a leak. The well-known formats — URLs with a
password, cloud keys, GitHub, GitLab, Slack, Stripe, OpenAI and other tokens, private keys,
JWTs — are recognised by Yelp's detect-secrets (its format detectors, called on the text
alone: no network, no verification). On top of them:

- a name that says secret (``DB_PASSWORD``, ``API_TOKEN``) holding something other than a
  reference (a path, a Secret's name, ``$VAR``): ``SECRET_NAME: s3-creds`` and
  ``PASSWORD_FILE: /run/secrets/pw`` pass;
- a value that looks random: one word of 20 or more base64 characters mixing upper case,
  lower case and digits, with detect-secrets' entropy limit; a long hex string only in an
  ``env`` value whose name does not say it is a digest or an id (``GIT_COMMIT``,
  ``MODEL_SHA256``).

The functions return what kind of secret a value looks like, never the value, so no message
or log can echo it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from detect_secrets.plugins.base import BasePlugin
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

# Left out of the format detectors: the entropy ones (judged below, on whole words only), the
# keyword one (names are judged below, with their values) and public IP addresses (no secret).
_NOT_FORMATS = {
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "KeywordDetector",
    "IPPublicDetector",
}

# Importing detect-secrets (it brings `requests`) costs more than the rest of `validate`, and
# almost no script or env value could hold any format it knows. So it is imported only for a
# text in which one of its format detectors could match: each alternative below is a part
# that every match of that detector contains (a prefix, a separator, a keyword), so a text
# without any of them cannot match and skipping it changes no answer.
# tests/unit/test_inline_secrets.py generates matches of every detector's patterns and checks
# that each one passes this gate, and that the detectors are the ones listed here.
GATED_FORMATS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector",
    "GitLabTokenDetector", "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
    "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector",
    "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
_MAY_HOLD_FORMAT = re.compile(
    r"A3T|ABIA|ACCA|AKIA|ASIA|(?i:aws)"  # AWS
    r"|AKC|AP[\dA-F]"  # Artifactory
    r"|AccountKey="  # Azure storage
    r"|://"  # URLs with a password, Cloudant, Softlayer, Slack hooks
    r"|(?i:key|pw|pass|token)"  # Cloudant, IBM, Softlayer assignments; npm _authToken
    r"|[MNO][a-zA-Z\d_-]{23,25}\."  # Discord
    r"|gh[pousr]_|gl[a-z]+-|GR1348941"  # GitHub, GitLab
    r"|eyJ"  # JSON Web Token
    r"|-us[0-9]"  # Mailchimp
    r"|T3BlbkFJ"  # OpenAI
    r"|BEGIN|PuTTY"  # private keys
    r"|pypi-"  # PyPI
    r"|SG\."  # SendGrid
    r"|(?i:xox)"  # Slack
    r"|sq0csp-"  # Square
    r"|k_live_"  # Stripe
    r"|\d{8,10}:"  # Telegram
    r"|AC[a-z0-9]{32}|SK[a-z0-9]{32}"  # Twilio
)
# detect-secrets' charsets (checked against it by the tests), for the cheap first looks.
BASE64_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/\\-_=")
HEX_CHARS = frozenset("0123456789abcdefABCDEF")


class _Detectors(NamedTuple):
    formats: tuple[BasePlugin, ...]
    base64: Base64HighEntropyString
    hex: HexHighEntropyString


@cache
def _detectors() -> _Detectors:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

    plugins: list[type[BasePlugin]] = sorted(
        get_mapping_from_secret_type_to_class().values(), key=lambda c: c.__name__
    )
    return _Detectors(
        tuple(plugin() for plugin in plugins if plugin.__name__ not in _NOT_FORMATS),
        Base64HighEntropyString(),
        HexHighEntropyString(),
    )


_KINDS = {"Basic Auth Credentials": "a URL with a password", "JSON Web Token": "a JSON Web Token"}

_MIN_RANDOM = 20
_MIN_HEX = 32

# Words that name a secret, matched as whole `_`-separated parts so that TOKENIZERS_PARALLELISM
# or MAX_TOKENS stay allowed; a password is one wherever it appears.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE"
    r"|(?:^|_)(?:SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)(?:_|$)",
    re.IGNORECASE,
)
# Names that say the value points at a secret, or is a plain id, rather than being one.
_REFERENCE_NAME = re.compile(r"_(?:FILE|PATH|DIR|NAME|REF|ENV|VAR|ID|URL|HOST)$", re.IGNORECASE)
_IDENTIFIER_NAME = re.compile(
    r"(?:^|_)(?:SHA\d*|MD5|HASH|DIGEST|CHECKSUM|COMMIT|REVISION|REV|VERSION|UUID|ID)(?:_|$)",
    re.IGNORECASE,
)
# What a secret-named variable may hold: a path, a reference to another variable, a number or
# a switch.
_REFERENCE_VALUE = re.compile(r"(?:/|\./|~/|\$)\S*|\d+(?:\.\d+)?|true|false", re.IGNORECASE)
_FLAG = re.compile(r"--?(?P<name>[A-Za-z][-A-Za-z0-9_]*)(?:=(?P<value>.*))?")
_ASSIGNMENT = re.compile(r"(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)")


def secret_name(name: str) -> bool:
    """Whether ``name`` (an env var or a command-line flag) says it holds a secret."""
    return bool(_SECRET_NAME.search(name.replace("-", "_"))) and not _REFERENCE_NAME.search(
        name.replace("-", "_")
    )


def known_format(text: str) -> str | None:
    """The kind of well-known secret ``text`` holds (``"a URL with a password"``), if any."""
    if not _MAY_HOLD_FORMAT.search(text):
        return None
    for plugin in _detectors().formats:
        for _ in plugin.analyze_string(text):
            kind = _KINDS.get(plugin.secret_type)
            if kind is None:
                article = "an" if plugin.secret_type[0] in "AEIOU" else "a"
                kind = f"{article} {plugin.secret_type}"
            return kind
    return None


def random_looking(word: str, *, hex_too: bool = False) -> bool:
    """Whether one word looks like a generated key: long, of base64 characters mixing cases
    and digits, past detect-secrets' entropy limit (long hex too, when ``hex_too``)."""
    if len(word) < _MIN_RANDOM:
        return False
    if hex_too and len(word) >= _MIN_HEX and HEX_CHARS.issuperset(word):
        return _not_a_pattern(word) and _detectors().hex.calculate_shannon_entropy(word) > (
            _detectors().hex.entropy_limit
        )
    mixed = (
        any(c.isupper() for c in word)
        and any(c.islower() for c in word)
        and any(c.isdigit() for c in word)
    )
    if not (mixed and BASE64_CHARS.issuperset(word)) or not _not_a_pattern(word):
        return False
    base64 = _detectors().base64
    return base64.calculate_shannon_entropy(word) > base64.entropy_limit


def _not_a_pattern(word: str) -> bool:
    """Neither a UUID nor a keyboard or alphabet run (detect-secrets' heuristics)."""
    from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string

    return not is_potential_uuid(word) and not is_sequential_string(word)


def in_env(name: str, value: str) -> str | None:
    """Why the env var ``name`` seems to hold a secret (without the value), or ``None``."""
    kind = known_format(value)
    if kind:
        return f"holds {kind}"
    text = value.strip()
    if secret_name(name) and text and not _REFERENCE_VALUE.fullmatch(text):
        return "is named like a secret and holds a value"
    if random_looking(text, hex_too=not _IDENTIFIER_NAME.search(name)):
        return "holds a random-looking key"
    return None


def in_script(script: str | Iterable[str]) -> str | None:
    """Why a script (shell text or an exec-form list) seems to hold a secret, or ``None``."""
    words = list(_words(script))
    text = script if isinstance(script, str) else " ".join(words)
    kind = known_format(text)
    if kind:
        return f"holds {kind}"
    for i, word in enumerate(words):
        flag = _FLAG.fullmatch(word)
        assignment = _ASSIGNMENT.fullmatch(word)
        if flag and secret_name(flag["name"]):
            value = flag["value"] if flag["value"] is not None else _at(words, i + 1)
            if value and not _FLAG.fullmatch(value) and not _REFERENCE_VALUE.fullmatch(value):
                return f"passes a value to --{flag['name']}"
        elif assignment and secret_name(assignment["name"]):
            value = assignment["value"]
            if value and not _REFERENCE_VALUE.fullmatch(value):
                return f"sets {assignment['name']} to a value"
        elif random_looking(word):
            return "holds a random-looking key"
    return None


def _words(script: str | Iterable[str]) -> Iterator[str]:
    if not isinstance(script, str):
        yield from script
        return
    try:
        yield from shlex.split(script, comments=True)
    except ValueError:  # unbalanced quotes: the shell would refuse it too; look at it anyway
        yield from script.split()


def _at(words: list[str], index: int) -> str | None:
    return words[index] if index < len(words) else None
