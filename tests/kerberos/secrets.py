"""Finding keytab bytes in text: raw, base64 (as in a Secret) or hex."""

from __future__ import annotations

import base64

_CHUNK = 12


def keytab_leaks(text: str, keytab: bytes) -> list[str]:
    """How ``text`` shows some of ``keytab``: its base64 or hex, or any 12-byte run of its key
    material raw, base64 or hex. Empty when nothing leaks.

    Chunks that are plain text (the principal's name) are not secret and are skipped.
    """
    found: list[str] = []
    whole = base64.b64encode(keytab).decode()
    if whole in text:
        found.append("the whole keytab, base64")
    if keytab.hex() in text.lower():
        found.append("the whole keytab, hex")
    raw = text.encode("utf-8", "surrogateescape")
    for start in range(0, len(keytab) - _CHUNK + 1, 3):
        chunk = keytab[start : start + _CHUNK]
        if all(32 <= b < 127 for b in chunk) or len(set(chunk)) < 6:
            continue
        if chunk in raw:
            found.append(f"raw bytes at offset {start}")
        if base64.b64encode(chunk).decode() in text:
            found.append(f"base64 of bytes at offset {start}")
        if chunk.hex() in text.lower():
            found.append(f"hex of bytes at offset {start}")
    return found
